import { randomBytes } from "node:crypto";
import { createEd25519 } from "../../authz/ed25519.ts";
import { sealToHost } from "../../authz/sealed-secret.ts";
import { desiredStateSchema } from "../../hub/desired-schema.ts";
import {
  type HubJob,
  hubJobSchema,
  signedEnvelopeSchema,
  type WireSigner,
} from "../../hub/protocol.ts";
import { pemFingerprint } from "../../tls/fingerprint.ts";
import { createSelfSignedCert } from "../../tls/self-signed.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { type EndlessBodyMode, type EndlessBodyServer, serveEndlessBody } from "./endless-body.ts";
import type { HubFaults } from "./faults.ts";
import { handle } from "./handlers.ts";
import { etagOf, HubSimState } from "./state.ts";

export type { EndlessBodyMode, EndlessBodyServer } from "./endless-body.ts";
export type { HubFaults } from "./faults.ts";
export type { RecordedAudit, RecordedReport, RecordedResult, SimHost } from "./state.ts";
export { HubSimState } from "./state.ts";

export interface HubSimOptions {
  /** Default 127.0.0.1:0 (a free port). Loopback only: the simulator hands out credentials. */
  listen?: { hostname?: string; port?: number };
  /** PEM certificate and key; default a fresh self-signed one for 127.0.0.1 and localhost. */
  tls?: { cert: string; key: string };
  clock?: Clock;
  /** Pre-use lifetime of a retrieval code; default 10 minutes. */
  codeTtlMs?: number;
  /** Operator signers handed out at enrollment. */
  signers?: WireSigner[];
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  ifNoneMatch?: string;
}

export interface HubSimulator {
  /** Base URL, `https://127.0.0.1:PORT`. */
  url: string;
  /** SHA-256 of the leaf certificate, `AA:BB:…`, for `enroll --fingerprint`. */
  fingerprint: string;
  certPem: string;
  /** Records, for assertions: codes, hosts, reports, audit rows, job results. */
  state: HubSimState;
  /** A fresh single-use retrieval code. */
  issueCode(opts?: { ttlMs?: number }): string;
  setSigners(signers: WireSigner[]): void;
  /** Validated against the contract; `hostId` absent = the default for every host. Returns the ETag. */
  setDesired(doc: unknown, hostId?: string): string;
  /**
   * A secret sealed to an enrolled host's key, as the hub puts it in `storage_targets`
   * (docs/hub-protocol.md#sealed-secrets): the hub keeps only this form.
   */
  sealFor(hostId: string, secret: string): { sealed: string };
  /** Queues a job (validated against the contract); `hostId` absent = every host. */
  addJob(job: Omit<HubJob, "created_at"> & { created_at?: string }, hostId?: string): void;
  /** Attaches the operator's signed envelope to an open job; it is served again, changed. */
  signJob(jobId: string, envelope: { payload: string; signature: string }): void;
  /** Publishes an update artifact (an agent build) for `GET …/artifacts/<version>/<target>`. */
  setArtifact(version: string, target: string, bytes: Uint8Array): void;
  readonly faults: HubFaults;
  setFaults(f: HubFaults): void;
  /** Every request answered, in order. */
  readonly requests: readonly RequestRecord[];
  /**
   * A second listener, with this simulator's certificate, that answers every request with a
   * body that never ends (`chunked`, or `lying_length` with a small Content-Length beside the
   * chunked framing). Stopped with the simulator.
   */
  serveEndlessBody(mode: EndlessBodyMode): EndlessBodyServer;
  /** Stops listening (connections are refused) until `up()`; the records stay. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Starts the hub simulator: protocol v1 over HTTPS on loopback (docs/hub-protocol.md). */
export async function startHubSimulator(opts: HubSimOptions = {}): Promise<HubSimulator> {
  const hostname = opts.listen?.hostname ?? "127.0.0.1";
  if (!LOOPBACK.test(hostname))
    throw new Error(`hub simulator listens on loopback only, not ${hostname}`);
  const clock = opts.clock ?? systemClock;
  const tls =
    opts.tls ??
    (await createSelfSignedCert({
      commonName: "felhom-hub-sim",
      altNames: ["127.0.0.1", "localhost"],
    }));
  const state = new HubSimState();
  state.signers = opts.signers ?? [];
  const ed = createEd25519();
  let faults: HubFaults = {};
  const requests: RequestRecord[] = [];
  const codeTtlMs = opts.codeTtlMs ?? 10 * 60_000;
  const extra: EndlessBodyServer[] = [];

  const serve = (port: number) =>
    Bun.serve({
      hostname,
      port,
      tls: { cert: tls.cert, key: tls.key },
      fetch: async (req) => {
        const delay = faults.delayMs;
        if (delay) await Bun.sleep(delay);
        let res: Response;
        try {
          res = await handle(req, { state, ed, clock, faults: () => faults });
        } catch {
          res = Response.json(
            { error: { code: "unavailable", message: "simulator error" } },
            { status: 500 },
          );
        }
        const inm = req.headers.get("if-none-match");
        requests.push({
          method: req.method,
          path: new URL(req.url).pathname,
          status: res.status,
          ...(inm !== null ? { ifNoneMatch: inm } : {}),
        });
        return res;
      },
    });

  let server: ReturnType<typeof Bun.serve> | undefined = serve(opts.listen?.port ?? 0);
  const port = server.port ?? 0;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;

  return {
    url: `https://${host}:${port}`,
    fingerprint: pemFingerprint(tls.cert),
    certPem: tls.cert,
    state,
    issueCode(o) {
      // Long enough to resist guessing within the TTL, short enough to type.
      const code = randomBytes(10)
        .toString("base64url")
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, "X");
      state.codes.set(code, { code, expiresAt: clock.now() + (o?.ttlMs ?? codeTtlMs) });
      return code;
    },
    setSigners(signers) {
      state.signers = signers;
    },
    setDesired(doc, hostId) {
      const checked = desiredStateSchema.parse(doc);
      const text = JSON.stringify(checked);
      const etag = etagOf(text);
      state.desired.set(hostId ?? "", { text, etag });
      return etag;
    },
    sealFor(hostId, secret) {
      const host = state.hosts.get(hostId);
      if (!host) throw new Error(`no enrolled host ${hostId}`);
      return sealToHost(secret, host.publicKey);
    },
    addJob(job, hostId) {
      const full = hubJobSchema.parse({ created_at: new Date(clock.now()).toISOString(), ...job });
      state.jobs.set(full.id, { job: full, hostId, open: true });
    },
    signJob(jobId, envelope) {
      const entry = state.jobs.get(jobId);
      if (!entry) throw new Error(`no job ${jobId}`);
      entry.job = { ...entry.job, envelope: signedEnvelopeSchema.parse(envelope) };
      entry.open = true;
    },
    setArtifact(version, target, bytes) {
      state.artifacts.set(`${version}/${target}`, bytes);
    },
    get faults() {
      return faults;
    },
    setFaults(f) {
      faults = { ...f };
    },
    requests,
    serveEndlessBody(mode) {
      const endless = serveEndlessBody({ tls, mode, hostname });
      extra.push(endless);
      return endless;
    },
    async down() {
      const s = server;
      server = undefined;
      await s?.stop(true);
    },
    async up() {
      server ??= serve(port);
    },
    async stop() {
      const s = server;
      server = undefined;
      await s?.stop(true);
      for (const e of extra.splice(0)) await e.stop();
    },
  };
}
