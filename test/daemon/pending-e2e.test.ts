import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { formatSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { runPending } from "../../src/cli/pending.ts";
import { runDaemon } from "../../src/cli/run.ts";
import { runSigners } from "../../src/cli/signers.ts";
import type { AgentReady } from "../../src/daemon/agent-daemon.ts";
import { type HubIdentity, readIdentity } from "../../src/hub/identity.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";
import { keyFromSeed } from "../authz/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import { fastSimClient, hubDaemonConfig, pollUntil, startHubWithOperator } from "./support.ts";

/**
 * The whole daemon, enrolled: a hub job rotating the signers is held; the operator on the host
 * approves it with `pending approve`, the running daemon carries it out through the gate, and
 * the hub sees the change in the audit rows and the status report.
 */

const ed = createEd25519();
const operator = await keyFromSeed(71, "operator@example");
const vault = await keyFromSeed(72, "vault@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-pending-e2e-"));
const stateDir = join(dir, "state");
let pve: PveSimulator;
let hub: HubSimulator;
let identity: HubIdentity;
const until = pollUntil(400);

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 30, authFailDelayMs: 0 });
  hub = await startHubWithOperator(operator);
  identity = await enrollIn(hub, stateDir);
});

afterAll(async () => {
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a held signers.rotate approved on the host runs in the daemon and reaches the hub", async () => {
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "warn" })),
  );
  hub.setDesired({ version: 1, guests: {} }, identity.host_id);
  let out = "";
  let err = "";
  const cli = (): CliContext => {
    out = "";
    err = "";
    return {
      env: {},
      configPath,
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
    };
  };

  const stop = new AbortController();
  let ready: AgentReady | undefined;
  const exit = runDaemon(
    ["run"],
    { configPath, env: {}, stdout: () => {}, stderr: () => {} },
    {
      signal: stop.signal,
      makeClient: () => fastSimClient(pve),
      onReady: (r) => {
        ready = r;
      },
    },
  );
  try {
    await until("the daemon to be ready", () => ready);
    // Moved, not copied: the identity file no longer lists them.
    expect((await readIdentity(join(stateDir, "hub-identity.json"))).signers).toEqual([]);
    // The enrolled signer was moved into the store at start-up.
    expect(await runSigners(["list", "--json"], cli())).toBe(0);
    expect(JSON.parse(out)).toEqual([
      {
        name: "operator",
        fingerprint: operator.publicKey.fingerprint,
        role: "operational",
        source: "enrollment",
        expires: null,
      },
    ]);

    const params = {
      signers: [
        {
          name: "operator",
          key: formatSshPublicKey(operator.publicKey, "operator@example"),
          role: "operational",
        },
        { name: "vault", key: formatSshPublicKey(vault.publicKey, "vault"), role: "recovery" },
      ],
    };
    hub.addJob({ id: "job-rotate", op: "signers.rotate", params }, identity.host_id);
    await until("the rotation held", () =>
      hub.state.results.find((r) => r.job_id === "job-rotate" && r.state === "pending_signature"),
    );
    expect(await runPending(["list", "--json"], cli())).toBe(0);
    const [held] = JSON.parse(out) as { id: string; op: string; job_id: string }[];
    expect(held).toMatchObject({ op: "signers.rotate", job_id: "job-rotate" });

    const payload = buildPayload({
      op: "signers.rotate",
      host: identity.host_id,
      params,
      job: "job-rotate",
      now: Math.floor(Date.now() / 1000),
      ttlSeconds: 300,
    });
    const file = join(dir, "rotate.env");
    writeFileSync(file, JSON.stringify(await signEnvelope(ed, operator, payload)));
    const code = await runPending(
      ["approve", held?.id as string, "--envelope", file, "--wait", "20", "--json"],
      cli(),
    );
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(out)).toMatchObject({ state: "done", outcome: "accepted" });

    expect(await runSigners(["list", "--json"], cli())).toBe(0);
    expect(
      JSON.parse(out).map((s: { name: string; source: string }) => `${s.name} ${s.source}`),
    ).toEqual(["operator rotation", "vault rotation"]);
    // The hub gets the change as an audit row, and the signers in force in its reports.
    const change = await until("the signer change at the hub", () =>
      hub.state.audit.find((r) => r.action === "signers.changed" && r.details.includes("rotation")),
    );
    expect(JSON.parse(change.details).added).toEqual([vault.publicKey.fingerprint]);
    await until("a report listing the vault key", () =>
      hub.state.reports.find((r) =>
        r.signers?.some((s) => s.name === "vault" && s.role === "recovery"),
      ),
    );
    expect(hub.state.audit.some((r) => r.action === "pending.approve")).toBe(true);
  } finally {
    stop.abort();
    expect(await exit).toBe(0);
  }
});
