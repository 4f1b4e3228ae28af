import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { HubIdentity } from "../../src/hub/identity.ts";
import type { WireAuditRow } from "../../src/hub/protocol.ts";
import { HubSimState, type HubSimulator, startHubSimulator } from "../../src/sim/hub/index.ts";
import { auditHash } from "../../src/store/audit.ts";
import { FakeSubmitter } from "./fake-submitter.ts";
import { enrollIn, fakeReport, type LinkHarness, openLink } from "./link-harness.ts";
import { tempDir } from "./support.ts";

let sim: HubSimulator;
beforeAll(async () => {
  sim = await startHubSimulator();
});
afterAll(async () => {
  await sim.stop();
});

let tmp: { dir: string; cleanup: () => Promise<void> };
let identity: HubIdentity;
const open: LinkHarness[] = [];
beforeEach(async () => {
  sim.setFaults({});
  await sim.up();
  tmp = await tempDir();
  identity = await enrollIn(sim, tmp.dir);
});
afterEach(async () => {
  for (const h of open.splice(0)) h.close();
  await tmp.cleanup();
});

async function agent(
  sub: FakeSubmitter,
  opts: Parameters<typeof openLink>[4] = {},
): Promise<LinkHarness> {
  const h = await openLink(sim, tmp.dir, identity, sub, opts);
  open.push(h);
  return h;
}

function restart(h: LinkHarness): void {
  h.close();
  open.splice(open.indexOf(h), 1);
}

const DOC = {
  version: 1 as const,
  guests: { "101": { run: "running" as const, cores: 2, memory_mib: 2048, max_cores: 4 } },
};

/** DOC as the reconciler sees it after the hub link persisted it. */
const DOC_GUESTS = { 101: { vmid: 101, run: "running", cores: 2, memoryMiB: 2048, maxCores: 4 } };
const guestsOf = (state: { guests: ReadonlyMap<number, unknown> } | undefined) =>
  state === undefined ? undefined : Object.fromEntries(state.guests);

const hostRequests = (suffix: string) =>
  sim.requests.filter((r) => r.path === `/v1/hosts/${identity.host_id}/${suffix}`);

describe("desired state polling", () => {
  test("no desired state assigned is not an empty desired state", async () => {
    const h = await agent(new FakeSubmitter());
    const r = await h.link.cycle();
    expect(r.reachable).toBe(true);
    expect(await h.link.provider.current()).toBeUndefined();
  });

  test("ETag: a change is fetched and persisted once, then one small 304 per poll", async () => {
    const etag = sim.setDesired(DOC, identity.host_id);
    const h = await agent(new FakeSubmitter());
    const seen: unknown[] = [];
    h.link.provider.onChange(() => {
      void h.link.provider.current().then((s) => seen.push(guestsOf(s)));
    });
    expect((await h.link.cycle()).desiredChanged).toBe(true);
    const snap = await h.link.provider.current();
    expect(guestsOf(snap)).toEqual(DOC_GUESTS);
    expect(snap?.etag).toBe(etag);
    expect((await h.link.cycle()).desiredChanged).toBe(false);
    expect((await h.link.cycle()).desiredChanged).toBe(false);
    const reqs = hostRequests("desired");
    expect(reqs.map((r) => r.status)).toEqual([200, 304, 304]);
    expect(reqs[1]?.ifNoneMatch).toBe(etag);
    expect(seen).toEqual([DOC_GUESTS]);
  });

  test("a document that could not be saved is not seen: the next poll fetches the same ETag and saves it", async () => {
    const etag = sim.setDesired(DOC, identity.host_id);
    const h = await agent(new FakeSubmitter());
    // The store refuses the write, as a full disk would.
    h.store.db.run(
      "CREATE TEMP TRIGGER refuse_desired BEFORE INSERT ON desired_state BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    const failed = await h.link.cycle();
    expect(failed.desiredChanged).toBe(false);
    expect(await h.link.provider.current()).toBeUndefined();
    h.store.db.run("DROP TRIGGER refuse_desired");
    const again = await h.link.cycle();
    expect(again.desiredChanged).toBe(true);
    const reqs = hostRequests("desired");
    expect(reqs.map((r) => r.status)).toEqual([200, 200]);
    expect(reqs[1]?.ifNoneMatch).toBeUndefined();
    const saved = await h.link.provider.current();
    expect(saved?.etag).toBe(etag);
    expect(guestsOf(saved)).toEqual(DOC_GUESTS);
  });

  test("the ETag survives a restart: the first poll after it is a 304", async () => {
    sim.setDesired(DOC, identity.host_id);
    const sub = new FakeSubmitter();
    const a = await agent(sub);
    await a.link.cycle();
    restart(a);
    const b = await agent(sub);
    expect(guestsOf(await b.link.provider.current())).toEqual(DOC_GUESTS);
    expect((await b.link.cycle()).desiredChanged).toBe(false);
    expect(hostRequests("desired").at(-1)?.status).toBe(304);
  });

  test.each(["json", "schema"] as const)(
    "a malformed (%s) document is logged without values and skipped",
    async (kind) => {
      sim.setDesired(DOC, identity.host_id);
      const h = await agent(new FakeSubmitter());
      await h.link.cycle();
      sim.setFaults({ malformedDesired: kind });
      const r = await h.link.cycle();
      expect(r.reachable).toBe(true);
      expect(r.desiredChanged).toBe(false);
      expect(guestsOf(await h.link.provider.current())).toEqual(DOC_GUESTS);
      const warn = h.logs.find((l) => l.msg.startsWith("malformed desired state"));
      expect(warn).toBeDefined();
      expect(JSON.stringify(h.logs)).not.toContain("sideways");
    },
  );
});

describe("outage: back-off and recovery", () => {
  test("down: cycles fail softly with capped exponential back-off; back up: every report and audit row delivered in order", async () => {
    const sub = new FakeSubmitter();
    const h = await agent(sub, { reportIntervalMs: 0 });
    const first = await h.link.cycle();
    expect(first.reachable).toBe(true);
    expect(first.nextDelayMs).toBe(1000);
    expect(first.delivered.reports).toBe(1);

    await sim.down();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.store.audit.append({
        actor: "operator",
        action: "guest.snapshot",
        target: "guest:101",
        outcome: "ok",
        details: { i },
      });
      const r = await h.link.cycle();
      expect(r.reachable).toBe(false);
      delays.push(r.nextDelayMs);
    }
    expect(delays).toEqual([2000, 4000, 8000, 8000, 8000]);
    expect(h.link.status().consecutiveFailures).toBe(5);
    expect(h.store.outbox.size()).toBe(5);

    await sim.up();
    const back = await h.link.cycle();
    expect(back.reachable).toBe(true);
    expect(back.nextDelayMs).toBe(1000);
    expect(h.store.outbox.size()).toBe(0);
    const reports = sim.state.reports.filter((r) => r.hostId === identity.host_id);
    expect(reports.length).toBe(7);
    const seqs = reports.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const audit = sim.state.audit.filter((a) => a.hostId === identity.host_id);
    expect(audit.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(audit.map((a) => JSON.parse(a.details).i)).toEqual([0, 1, 2, 3, 4]);
    expect(sim.state.auditGaps).toBe(0);
    expect(sim.state.duplicateReports).toBe(0);
    expect(h.store.audit.undelivered()).toEqual([]);
  });

  test("5xx counts as unreachable; nothing is acknowledged locally until the hub accepts it", async () => {
    const h = await agent(new FakeSubmitter(), { reportIntervalMs: 0 });
    sim.setFaults({ status: 503 });
    const r = await h.link.cycle();
    expect(r.reachable).toBe(false);
    expect(h.store.outbox.size()).toBe(1);
    sim.setFaults({});
    expect((await h.link.cycle()).reachable).toBe(true);
    expect(h.store.outbox.size()).toBe(0);
  });

  test("a hub slower than the request timeout is treated as unreachable", async () => {
    const h = await agent(new FakeSubmitter(), { requestTimeoutMs: 100 });
    sim.setFaults({ delayMs: 400 });
    const r = await h.link.cycle();
    expect(r.reachable).toBe(false);
    expect(h.link.status().lastError).toContain("timed out");
    sim.setFaults({});
  });
});

describe("audit chain anchored at the hub", () => {
  const row = (i: number) => ({
    actor: "operator",
    action: "guest.snapshot",
    target: "guest:101",
    outcome: "ok",
    details: { i },
  });

  test("each status report carries the audit head as it was when the report was made", async () => {
    const h = await agent(new FakeSubmitter(), { reportIntervalMs: 0 });
    for (let i = 0; i < 3; i++) h.store.audit.append(row(i));
    const head = h.store.audit.head();
    await h.link.cycle();
    const report = sim.state.reports.filter((r) => r.hostId === identity.host_id).at(-1);
    expect(report?.audit_head).toEqual({ seq: 3, hash: head.hash });
    expect(sim.state.auditHeadMismatches).toBe(0);
  });

  test("a log rewritten after delivery: the hub refuses the rows, the agent keeps them", async () => {
    const h = await agent(new FakeSubmitter(), { reportIntervalMs: 0 });
    for (let i = 0; i < 5; i++) h.store.audit.append(row(i));
    await h.link.cycle();
    expect(sim.state.audit.filter((a) => a.hostId === identity.host_id)).toHaveLength(5);
    const refusalsBefore = sim.state.auditRefusals;
    // Someone with the file: cut rows 4-5, point the head and the delivery mark back at row 3,
    // and write a different row 4 (a clean-looking local chain).
    const third = h.store.audit.list({ afterSeq: 2, limit: 1 })[0];
    h.store.db.run("DROP TRIGGER audit_append_only_delete");
    h.store.db.run("DELETE FROM audit WHERE seq > 3");
    h.store.db
      .query("UPDATE audit_state SET head_seq = 3, head_hash = $h, delivered_seq = 3 WHERE id = 1")
      .run({ h: third?.hash ?? "" });
    h.store.audit.append({ ...row(99), outcome: "nothing happened" });
    expect(h.store.audit.verifyChain()).toMatchObject({ ok: true, count: 4 });

    const r = await h.link.cycle();
    expect(r.reachable).toBe(false);
    expect(sim.state.auditRefusals).toBe(refusalsBefore + 1);
    // The hub's copy is unchanged and the agent keeps the rows it could not deliver.
    const held = sim.state.audit.filter((a) => a.hostId === identity.host_id);
    expect(held.map((a) => JSON.parse(a.details).i)).toEqual([0, 1, 2, 3, 4]);
    expect(h.store.audit.undelivered().map((a) => a.seq)).toEqual([4]);
    expect(h.logs.some((l) => l.msg.startsWith("hub refused the audit rows during deliver"))).toBe(
      true,
    );
  });
});

describe("audit pruning after delivery", () => {
  test("rows the hub acknowledged are pruned past the retention; the next row still links for the hub", async () => {
    const h = await agent(new FakeSubmitter(), { auditRetentionMs: 0 });
    for (let i = 0; i < 3; i++) {
      h.store.audit.append({ actor: "agent", action: "test", outcome: "ok", details: { i } });
    }
    // Retention 0: anything written before this cycle's clock reading is old enough.
    await Bun.sleep(5);
    expect((await h.link.cycle()).reachable).toBe(true);
    expect(h.store.audit.list()).toEqual([]);
    expect(h.store.audit.head()).toMatchObject({ anchorSeq: 3, deliveredSeq: 3 });
    expect(h.store.audit.verifyChain()).toMatchObject({ ok: true, count: 0, anchorSeq: 3 });
    const refusals = sim.state.auditRefusals;
    h.store.audit.append({ actor: "agent", action: "test", outcome: "ok", details: { i: 3 } });
    expect((await h.link.cycle()).reachable).toBe(true);
    const held = sim.state.audit.filter((a) => a.hostId === identity.host_id);
    expect(held.map((a) => a.seq)).toEqual([1, 2, 3, 4]);
    expect(held[3]?.prev_hash).toBe(held[2]?.hash);
    expect(sim.state.auditRefusals).toBe(refusals);
  });

  test("rows the hub does not have yet are never pruned, however old", async () => {
    const h = await agent(new FakeSubmitter(), { auditRetentionMs: 0 });
    h.store.audit.append({ actor: "agent", action: "test", outcome: "ok" });
    await Bun.sleep(5);
    sim.setFaults({ status: 503 });
    expect((await h.link.cycle()).reachable).toBe(false);
    expect(h.store.audit.list()).toHaveLength(1);
    expect(h.store.audit.head().anchorSeq).toBe(0);
  });
});

describe("hub simulator: the chain checks a real hub must make", () => {
  const GENESIS = "0".repeat(64);
  /** Rows chained the way the agent chains them. */
  function chain(n: number, from = 1, prev = GENESIS): WireAuditRow[] {
    const rows: WireAuditRow[] = [];
    for (let seq = from; seq < from + n; seq++) {
      const f = { seq, ts: 1_000 + seq, actor: "agent", action: "test", target: null };
      const more = { outcome: "ok", details: "{}" };
      const hash = auditHash({ ...f, ...more, prevHash: prev });
      rows.push({ ...f, ...more, prev_hash: prev, hash });
      prev = hash;
    }
    return rows;
  }

  test("gaps, broken links, altered rows and rewrites are refused whole; a re-sent row is fine", () => {
    const state = new HubSimState();
    const rows = chain(4);
    expect(state.acceptAudit("h", rows.slice(0, 2))).toEqual({ ok: true });
    // Re-delivery after a lost acknowledgement, then the rest.
    expect(state.acceptAudit("h", rows.slice(1, 3))).toEqual({ ok: true });
    expect(state.audit.map((a) => a.seq)).toEqual([1, 2, 3]);
    const row4 = rows[3] as WireAuditRow;
    const verdicts = [
      state.acceptAudit("h", chain(1, 5, row4.hash)), // row 4 missing
      state.acceptAudit("h", chain(1, 4, "f".repeat(64))), // does not link to row 3
      state.acceptAudit("h", [{ ...row4, outcome: "changed" }]), // hash no longer covers it
      state.acceptAudit("h", [{ ...(rows[1] as WireAuditRow), ts: 5 }]), // the same
      state.acceptAudit("h", chain(2, 2, "e".repeat(64))), // a different row 2
    ];
    expect(verdicts.map((v) => v.ok)).toEqual([false, false, false, false, false]);
    expect(state.auditRefusals).toBe(5);
    expect(state.auditGaps).toBe(1);
    expect(state.audit.map((a) => a.seq)).toEqual([1, 2, 3]);
    expect(state.acceptAudit("h", rows.slice(3))).toEqual({ ok: true });
  });

  test("a report whose audit head contradicts the rows held, or goes back, is noticed", () => {
    const state = new HubSimState();
    const rows = chain(3);
    state.acceptAudit("h", rows);
    const report = (seq: number, head: { seq: number; hash: string }) => {
      const r = { ...fakeReport(), seq, audit_head: head };
      state.checkAuditHead("h", r);
      state.recordReport("h", r);
    };
    report(1, { seq: 3, hash: (rows[2] as WireAuditRow).hash });
    expect(state.auditHeadMismatches).toBe(0);
    report(2, { seq: 3, hash: "a".repeat(64) }); // another row 3
    expect(state.auditHeadMismatches).toBe(1);
    report(3, { seq: 2, hash: (rows[1] as WireAuditRow).hash }); // the log went back to row 2
    expect(state.auditHeadMismatches).toBe(2);
  });
});

describe("jobs", () => {
  test("a job is submitted once and its result reported exactly once, across restarts", async () => {
    const sub = new FakeSubmitter({ async: true });
    sim.addJob(
      { id: "job-snap-1", op: "guest.snapshot", vmid: 101, params: { name: "pre-deploy" } },
      identity.host_id,
    );
    const a = await agent(sub);
    await a.link.cycle();
    expect(sub.submitted.length).toBe(1);
    expect(sub.submitted[0]).toMatchObject({
      op: "guest.snapshot",
      vmid: 101,
      origin: "job",
      jobId: "job-snap-1",
    });
    expect(sim.state.results.length).toBe(0);
    restart(a);

    // The operation finishes while the agent is down; the new process reports it.
    sub.finish("op-1", "done");
    const b = await agent(sub);
    await b.link.cycle();
    expect(sub.submitted.length).toBe(1);
    const mine = sim.state.results.filter((r) => r.job_id === "job-snap-1");
    expect(mine.map((r) => r.state)).toEqual(["ok"]);
    expect(mine[0]?.operation_id).toBe("op-1");
    restart(b);

    const c = await agent(sub);
    await c.link.cycle();
    await c.link.cycle();
    expect(sub.submitted.length).toBe(1);
    expect(sim.state.results.filter((r) => r.job_id === "job-snap-1").length).toBe(1);
    expect(sim.state.duplicateResults).toBe(0);
  });

  test("a result reached while the hub is down is delivered once when it returns", async () => {
    const sub = new FakeSubmitter({ async: true });
    sim.addJob({ id: "job-start-2", op: "guest.start", vmid: 101, params: {} }, identity.host_id);
    const h = await agent(sub);
    await h.link.cycle();
    await sim.down();
    sub.finish("op-1", "failed", "CT 101 is locked (backup)");
    expect((await h.link.cycle()).reachable).toBe(false);
    expect(h.store.outbox.peek().map((i) => i.kind)).toContain("job_result");
    await sim.up();
    await h.link.cycle();
    await h.link.cycle();
    const mine = sim.state.results.filter((r) => r.job_id === "job-start-2");
    expect(mine.map((r) => [r.state, r.reason])).toEqual([["failed", "CT 101 is locked (backup)"]]);
    expect(sub.submitted.filter((s) => s.jobId === "job-start-2").length).toBe(1);
  });

  test("destructive job: unsigned → pending_signature reported; signed → executed and reported", async () => {
    const sub = new FakeSubmitter();
    sim.addJob(
      { id: "job-rb-3", op: "guest.rollback", vmid: 101, params: { snapshot: "pre-deploy" } },
      identity.host_id,
    );
    const h = await agent(sub);
    await h.link.cycle();
    await h.link.cycle();
    expect(sim.state.results.filter((r) => r.job_id === "job-rb-3").map((r) => r.state)).toEqual([
      "pending_signature",
    ]);
    expect(sub.submitted.length).toBe(1);

    const envelope = {
      payload: Buffer.from('{"v":1}').toString("base64"),
      signature: "-----BEGIN SSH SIGNATURE-----\nx\n-----END SSH SIGNATURE-----",
    };
    sim.signJob("job-rb-3", envelope);
    await h.link.cycle();
    expect(sub.submitted.length).toBe(2);
    expect(sub.submitted[1]?.envelope).toEqual(envelope);
    expect(sim.state.results.filter((r) => r.job_id === "job-rb-3").map((r) => r.state)).toEqual([
      "pending_signature",
      "ok",
    ]);
    await h.link.cycle();
    expect(sub.submitted.length).toBe(2);
    expect(sim.state.duplicateResults).toBe(0);
  });

  test("a rejected job is reported with the gate's reason", async () => {
    const sub = new FakeSubmitter({ async: true });
    sim.addJob(
      { id: "job-cfg-4", op: "guest.config", vmid: 101, params: { cores: 64 } },
      identity.host_id,
    );
    const h = await agent(sub);
    await h.link.cycle();
    sub.finish("op-1", "rejected", "binding_mismatch");
    await h.link.cycle();
    const r = sim.state.results.find((x) => x.job_id === "job-cfg-4");
    expect(r).toMatchObject({ state: "rejected", reason: "binding_mismatch" });
  });

  test("a malformed job is rejected as malformed and logged without its values; good jobs beside it run", async () => {
    const sub = new FakeSubmitter();
    sim.state.jobs.set("job-bad-5", {
      job: {
        id: "job-bad-5",
        op: "guest.explode",
        params: { secret_sauce: "s3cr3t-value" },
      } as never,
      hostId: identity.host_id,
      open: true,
    });
    sim.addJob({ id: "job-ok-6", op: "guest.start", vmid: 101, params: {} }, identity.host_id);
    const h = await agent(sub);
    await h.link.cycle();
    expect(sub.submitted.map((s) => s.jobId)).toEqual(["job-ok-6"]);
    const bad = sim.state.results.find((r) => r.job_id === "job-bad-5");
    expect(bad?.state).toBe("rejected");
    expect(bad?.reason).toStartWith("malformed");
    expect(JSON.stringify(h.logs)).not.toContain("s3cr3t-value");
    expect(JSON.stringify(bad)).not.toContain("s3cr3t-value");
  });

  test("a malformed job list is skipped whole", async () => {
    const sub = new FakeSubmitter();
    sim.setFaults({ malformedJobs: "schema" });
    const h = await agent(sub);
    const r = await h.link.cycle();
    expect(r.reachable).toBe(true);
    expect(sub.submitted.length).toBe(0);
    expect(h.logs.some((l) => l.msg === "malformed job list from the hub skipped")).toBe(true);
  });
});

describe("request authentication", () => {
  test("every request the agent made carried a valid signature (the simulator refuses others)", async () => {
    sim.setDesired(DOC, identity.host_id);
    const h = await agent(new FakeSubmitter(), { reportIntervalMs: 0 });
    await h.link.cycle();
    const mine = sim.requests.filter((r) => r.path.includes(identity.host_id));
    expect(mine.length).toBeGreaterThan(2);
    expect(mine.every((r) => r.status !== 401)).toBe(true);
  });
});

describe("createHubLink", () => {
  test("builds a working link from the identity file's URL and pin", async () => {
    const { createHubLink } = await import("../../src/hub/create-link.ts");
    const { openStore } = await import("../../src/store/index.ts");
    const { silentLogger } = await import("../../src/log/types.ts");
    const { systemClock } = await import("../../src/util/clock.ts");
    const { join } = await import("node:path");
    const { fakeReport } = await import("./link-harness.ts");
    sim.setDesired(DOC, identity.host_id);
    const store = openStore({ path: join(tmp.dir, "state.db") });
    const { link, close } = await createHubLink({
      identity,
      config: {
        poll_interval_s: 30,
        jitter_pct: 20,
        backoff_max_s: 300,
        report_interval_s: 60,
        request_timeout_s: 5,
        audit_retention_days: 365,
      },
      stateDir: tmp.dir,
      store,
      submitter: new FakeSubmitter(),
      collectReport: async () => fakeReport(),
      clock: systemClock,
      logger: silentLogger,
    });
    try {
      const r = await link.cycle();
      expect(r.reachable).toBe(true);
      expect(guestsOf(await link.provider.current())).toEqual(DOC_GUESTS);
    } finally {
      close();
      store.close();
    }
  });

  async function linkOver(store: import("../../src/store/store.ts").Store, sub: FakeSubmitter) {
    const { createHubLink } = await import("../../src/hub/create-link.ts");
    const { systemClock } = await import("../../src/util/clock.ts");
    const { recordingLogger } = await import("../proxmox/support/recording-logger.ts");
    const logger = recordingLogger();
    const built = await createHubLink({
      identity,
      config: {
        poll_interval_s: 30,
        jitter_pct: 20,
        backoff_max_s: 300,
        report_interval_s: 3600,
        request_timeout_s: 5,
        audit_retention_days: 365,
      },
      stateDir: tmp.dir,
      store,
      submitter: sub,
      collectReport: async () => fakeReport(),
      clock: systemClock,
      logger,
    });
    return { ...built, logs: logger.records };
  }

  test("imports the ledger file of earlier builds: a job it finished is not run again", async () => {
    const { openStore } = await import("../../src/store/index.ts");
    const { join } = await import("node:path");
    const { existsSync, writeFileSync } = await import("node:fs");
    const ledgerFile = join(tmp.dir, "hub-jobs.json");
    writeFileSync(
      ledgerFile,
      JSON.stringify({
        version: 1,
        jobs: [
          {
            jobId: "job-old-1",
            operationId: "op-old",
            signed: false,
            reported: ["ok"],
            terminal: true,
            updatedAt: Date.now(),
          },
        ],
      }),
    );
    sim.addJob({ id: "job-old-1", op: "guest.start", vmid: 101, params: {} }, identity.host_id);
    const store = openStore({ path: join(tmp.dir, "state.db") });
    const sub = new FakeSubmitter();
    const { link, close, logs } = await linkOver(store, sub);
    try {
      expect(existsSync(ledgerFile)).toBe(false);
      expect(existsSync(`${ledgerFile}.imported`)).toBe(true);
      expect(logs.some((l) => l.msg === "hub job ledger file moved into the state store")).toBe(
        true,
      );
      expect((await link.cycle()).reachable).toBe(true);
      expect(sub.submitted).toEqual([]);
      expect(store.hubJobs.get("job-old-1")?.terminal).toBe(true);
    } finally {
      close();
      store.close();
    }
  });

  test("a ledger file that does not fit is kept aside and reported; the link still works", async () => {
    const { openStore } = await import("../../src/store/index.ts");
    const { join } = await import("node:path");
    const { existsSync, readdirSync, writeFileSync } = await import("node:fs");
    writeFileSync(join(tmp.dir, "hub-jobs.json"), '{"version":1,"jobs":[{"jobId":7}]}');
    sim.addJob({ id: "job-new-1", op: "guest.start", vmid: 101, params: {} }, identity.host_id);
    const store = openStore({ path: join(tmp.dir, "state.db") });
    const sub = new FakeSubmitter();
    const { link, close, logs } = await linkOver(store, sub);
    try {
      expect(existsSync(join(tmp.dir, "hub-jobs.json"))).toBe(false);
      expect(
        readdirSync(tmp.dir).filter((f) => f.startsWith("hub-jobs.json.invalid-")),
      ).toHaveLength(1);
      const err = logs.find((l) => l.level === "error");
      expect(err?.fields.reason).toContain("jobs.0.jobId");
      expect((await link.cycle()).reachable).toBe(true);
      expect(sub.submitted.map((s) => s.jobId)).toEqual(["job-new-1"]);
    } finally {
      close();
      store.close();
    }
  });
});
