import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { runDaemon } from "../../src/cli/run.ts";
import type { AgentReady } from "../../src/daemon/agent-daemon.ts";
import { hubAcksPath, readHubAcks } from "../../src/daemon/hub-acks.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";
import { keyFromSeed } from "../authz/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import {
  fastSimClient,
  hubDaemonConfig,
  pinnedTls,
  pollUntil,
  startHubWithOperator,
} from "./support.ts";

/**
 * The whole daemon in-process against the Proxmox simulator, the hub simulator and a real
 * HTTPS local API: enroll → desired state from the hub converges → a guest snapshots and
 * cleans up through the local API → an unsigned destructive hub job is held and reported →
 * the operator's signature arrives through the hub → executed and reported exactly once →
 * audit rows present and the chain verifies.
 */

const ed = createEd25519();
const operator = await keyFromSeed(31, "operator@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-e2e-"));
const stateDir = join(dir, "state");
let pve: PveSimulator;
let hub: HubSimulator;
let identity: HubIdentity;
const until = pollUntil(300);
let guestToken: string;

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 40, authFailDelayMs: 0 });
  hub = await startHubWithOperator(operator);
  identity = await enrollIn(hub, stateDir);
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  guestToken = store.guestTokens.mint(101).token;
  store.close();
});

afterAll(async () => {
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("enroll → converge → local API → held hub job → signed → executed once → audit verifies", async () => {
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "info" })),
  );
  hub.setDesired(
    {
      version: 1,
      guests: {
        "101": { cores: 2, max_cores: 4, max_memory_mib: 4096 },
        "102": { run: "running", cores: 3 },
      },
      backup_storage: "local",
    },
    identity.host_id,
  );

  const logs: string[] = [];
  const stop = new AbortController();
  let ready: AgentReady | undefined;
  const exit = runDaemon(
    ["run"],
    { configPath, env: {}, stdout: () => {}, stderr: (t) => logs.push(t) },
    {
      signal: stop.signal,
      makeClient: () => fastSimClient(pve),
      onReady: (r) => {
        ready = r;
      },
    },
  );
  try {
    const agent = await until("the daemon to be ready", () => ready);
    const local = agent.localApi;
    expect(local).toBeDefined();
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${local?.server.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${guestToken}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        tls: pinnedTls(local),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const settle = (id: string) =>
      until(`operation ${id}`, async () => {
        const r = await api("GET", `/v1/self/operations/${id}`);
        const state = (r.body as { state?: string }).state;
        return state === "done" || state === "failed" ? r.body : undefined;
      });

    // Desired state from the hub converges guest 102.
    await until("guest 102 converged", () => {
      const g = pve.state.guest(102);
      return g?.running && g.config.cores === 3 ? true : undefined;
    });

    // A snapshot before a deploy, through the local API over HTTPS.
    const snap = await api("POST", "/v1/self/snapshots", { name: "deploy1" });
    expect(snap.status).toBe(202);
    const snapId = (snap.body.operation as { id: string }).id;
    expect(snapId).toMatch(/^op-\d+$/);
    expect(await settle(snapId)).toMatchObject({ state: "done" });
    expect(pve.state.guest(101)?.snapshots.has("ctl-deploy1")).toBe(true);

    // The deploy "fails": the guest rolls back to the snapshot it asked for (benign
    // for that guest), and the guest is running again afterwards.
    const rb = await api("POST", "/v1/self/snapshots/ctl-deploy1/rollback");
    expect(rb.status).toBe(202);
    expect(await settle((rb.body.operation as { id: string }).id)).toMatchObject({
      state: "done",
    });
    expect(
      pve.state.tasks().filter((t) => t.parts.type === "vzrollback" && t.parts.id === "101"),
    ).toHaveLength(1);
    expect(pve.state.guest(101)?.running).toBe(true);

    // Its own snapshot is the guest's to delete.
    const del = await api("DELETE", "/v1/self/snapshots/ctl-deploy1");
    expect(del.status).toBe(202);
    expect(await settle((del.body.operation as { id: string }).id)).toMatchObject({
      state: "done",
    });
    expect(pve.state.guest(101)?.snapshots.has("ctl-deploy1")).toBe(false);

    // A grow within the hub's quota, and a backup to the desired backup storage.
    const grow = await api("POST", "/v1/self/resources", { cores: 4 });
    expect(grow.status).toBe(202);
    await settle((grow.body.operation as { id: string }).id);
    expect(pve.state.guest(101)?.config.cores).toBe(4);
    // The grow is the guest's own request: the reconciler keeps it although desired state says
    // 2, and the hub hears of it through the audit feed.
    const passAfterGrow = agent.health().lastPassAt ?? 0;
    await until("a pass well after the grow", () =>
      (agent.health().lastPassAt ?? 0) > passAfterGrow + 1000 ? true : undefined,
    );
    expect(pve.state.guest(101)?.config.cores).toBe(4);
    await until("the standing grow in the hub's audit feed", () =>
      hub.state.audit.find(
        (a) =>
          a.action === "guest.override" && a.outcome === "standing" && a.target === "guest:101",
      ),
    );
    await until("the standing grow in a status report", () =>
      hub.state.reports.find((r) =>
        r.guest_overrides?.some((o) => o.vmid === 101 && o.field === "cores" && o.value === 4),
      ),
    );
    const backup = await api("POST", "/v1/self/backups", {});
    expect(backup.status).toBe(202);
    const backupDone = await settle((backup.body.operation as { id: string }).id);
    expect(String((backupDone.result as { archive?: string })?.archive)).toMatch(
      /^local:backup\/vzdump-lxc-101-/,
    );

    // An unsigned destructive hub job: held, and reported as such.
    const params = { name: "before-upgrade" };
    hub.addJob({ id: "job-rb-1", op: "guest.rollback", vmid: 101, params }, identity.host_id);
    await until("the held job reported", () =>
      hub.state.results.find((r) => r.job_id === "job-rb-1" && r.state === "pending_signature"),
    );
    await until("the held job in a status report", () =>
      hub.state.reports.find((r) => r.pending_signatures.some((p) => p.job_id === "job-rb-1")),
    );
    const rollbacks = () =>
      pve.state.tasks().filter((t) => t.parts.type === "vzrollback" && t.parts.id === "101");
    expect(rollbacks()).toHaveLength(1); // the guest's own rollback above

    // The operator signs it; the hub serves the job again with the envelope.
    const payload = buildPayload({
      op: "guest.rollback",
      host: identity.host_id,
      guest: { vmid: 101 },
      params,
      job: "job-rb-1",
      now: Math.floor(Date.now() / 1000),
      ttlSeconds: 300,
    });
    hub.signJob("job-rb-1", await signEnvelope(ed, operator, payload));
    await until("the signed job reported ok", () =>
      hub.state.results.find((r) => r.job_id === "job-rb-1" && r.state === "ok"),
    );
    // A few more polls: nothing runs or is reported twice.
    const polls = hub.requests.length;
    await until("two more hub cycles", () => (hub.requests.length >= polls + 6 ? true : undefined));
    expect(rollbacks()).toHaveLength(2);
    expect(hub.state.results.filter((r) => r.job_id === "job-rb-1").map((r) => r.state)).toEqual([
      "pending_signature",
      "ok",
    ]);
    expect(pve.state.guest(101)?.running).toBe(true);
    const lastReport = hub.state.reports.at(-1);
    expect(lastReport?.reconcile.last_pass_at).toBeDefined();
    expect(lastReport?.pending_signatures.some((p) => p.job_id === "job-rb-1")).toBe(false);
    expect(agent.health().lastPassAt).toBeDefined();

    // The hub changes cores for 101: its word wins over the guest's earlier grow.
    hub.setDesired(
      {
        version: 1,
        guests: {
          "101": { cores: 3, max_cores: 4, max_memory_mib: 4096 },
          "102": { run: "running", cores: 3 },
        },
        backup_storage: "local",
      },
      identity.host_id,
    );
    await until("guest 101 at the hub's 3 cores", () =>
      pve.state.guest(101)?.config.cores === 3 ? true : undefined,
    );
    await until("the withdrawn grow in the hub's audit feed", () =>
      hub.state.audit.find((a) => a.action === "guest.override.withdraw" && a.outcome === "void"),
    );
  } finally {
    stop.abort();
  }
  expect(await exit).toBe(0);

  // The audit trail: every decision is there, chained, and reached the hub.
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  try {
    expect(store.audit.verifyChain().ok).toBe(true);
    const rows = store.audit.list({ limit: 1000 });
    const outcomes = rows
      .filter((r) => r.action === "guest.rollback")
      .map((r) => `${r.actor} ${r.outcome}`);
    expect(outcomes).toContain("guest:101 allowed");
    expect(outcomes).toContain("hub pending_signature");
    expect(outcomes).toContain("signer:operator accepted");
    expect(rows.some((r) => r.action === "guest.snapshot" && r.outcome === "allowed")).toBe(true);
    expect(hub.state.audit.length).toBeGreaterThan(0);
    expect(hub.state.auditGaps).toBe(0);
    // What the hub acknowledged is also kept beside the identity, bound to this store.
    const acks = readHubAcks(hubAcksPath(join(stateDir, "hub-identity.json")));
    expect(acks?.store_id).toBe(store.info.storeId);
    expect(acks?.audit_seq).toBe(Math.max(...hub.state.audit.map((a) => a.seq)));
    expect(acks?.report_seq).toBeGreaterThan(0);
  } finally {
    store.close();
  }
  // Secrets never reach the logs (docs/architecture.md#secrets-never-leak).
  const text = logs.join("");
  expect(text).not.toContain(guestToken);
  expect(text).not.toContain(identity.credential);
  expect(text).not.toContain(pve.tokens.agent.split("=")[1] as string);
}, 60_000);
