import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { storeJobLedger } from "../../src/hub/job-ledger.ts";
import { HUB_JOB_LEDGER_FILE, importJobLedgerFile } from "../../src/hub/job-ledger-import.ts";
import { JobRunner } from "../../src/hub/jobs.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "../store/support.ts";
import { FakeSubmitter } from "./fake-submitter.ts";

const CREATED = "2026-01-01T00:00:00Z";
// Shape only: the fake submitter stands in for the gate, which would verify it.
const ENVELOPE = {
  payload: Buffer.from('{"v":1}').toString("base64"),
  signature: "-----BEGIN SSH SIGNATURE-----\nx\n-----END SSH SIGNATURE-----",
};

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

function runner(store: Store, submitter: FakeSubmitter): JobRunner {
  return new JobRunner({
    submitter,
    ledger: storeJobLedger(store.hubJobs),
    clock: tmp.clock,
    logger: silentLogger,
  });
}

function results(store: Store, jobId: string): string[] {
  return store.outbox
    .peek(1000)
    .filter((i) => i.kind === "job_result")
    .map((i) => i.body as { job_id: string; state: string })
    .filter((b) => b.job_id === jobId)
    .map((b) => b.state);
}

describe("job results and the ledger", () => {
  test("a crash between queueing a result and noting it cannot queue the result twice", async () => {
    const submitter = new FakeSubmitter({ async: true });
    const first = tmp.open();
    await runner(first, submitter).take([
      { id: "job-1", op: "guest.start", vmid: 101, params: {}, created_at: CREATED },
    ]);
    const opId = first.hubJobs.get("job-1")?.operationId as string;
    submitter.finish(opId, "done");
    // The process dies while noting the result: the write of the ledger fails after the
    // outbox row was written in the same transaction.
    first.db.run(
      `CREATE TEMP TRIGGER crash BEFORE UPDATE ON hub_jobs
       BEGIN SELECT RAISE(ABORT, 'process died'); END`,
    );
    await expect(runner(first, submitter).track()).rejects.toThrow("process died");
    expect(results(first, "job-1")).toEqual([]);
    first.close();

    // Restart: the outcome is queued once, whatever the first process managed to write.
    const second = tmp.open();
    await runner(second, submitter).track();
    await runner(second, submitter).track();
    expect(results(second, "job-1")).toEqual(["ok"]);
    expect(second.hubJobs.get("job-1")).toMatchObject({ reported: ["ok"], terminal: true });
  });

  test("pending_signature then the outcome are each queued once across restarts", async () => {
    const submitter = new FakeSubmitter();
    const a = tmp.open();
    const job = {
      id: "job-rb",
      op: "guest.rollback",
      vmid: 101,
      params: { snapshot: "s" },
      created_at: CREATED,
    };
    await runner(a, submitter).take([job]);
    await runner(a, submitter).take([job]);
    expect(results(a, "job-rb")).toEqual(["pending_signature"]);
    a.close();
    const b = tmp.open();
    await runner(b, submitter).take([{ ...job, envelope: ENVELOPE }]);
    await runner(b, submitter).track();
    expect(results(b, "job-rb")).toEqual(["pending_signature", "ok"]);
    expect(b.hubJobs.open()).toEqual([]);
  });
});

describe("import of the ledger file of earlier builds", () => {
  const entry = {
    jobId: "job-old",
    operationId: "op-9",
    signed: false,
    reported: ["pending_signature"],
    terminal: false,
    updatedAt: 1_767_225_600_000,
  };

  test("a valid file is imported once and renamed .imported", () => {
    const store = tmp.open();
    const path = join(tmp.dir, HUB_JOB_LEDGER_FILE);
    const done = { ...entry, jobId: "job-done", reported: ["ok"], terminal: true };
    writeFileSync(path, JSON.stringify({ version: 1, jobs: [entry, done] }));
    const deps = { importRecords: store.hubJobs.importRecords.bind(store.hubJobs), now: 0 };
    expect(importJobLedgerFile(path, deps)).toEqual({
      kind: "imported",
      jobs: 2,
      added: 2,
      keptAt: `${path}.imported`,
    });
    expect(existsSync(path)).toBe(false);
    expect(JSON.parse(readFileSync(`${path}.imported`, "utf8")).jobs).toHaveLength(2);
    expect(store.hubJobs.get("job-old")).toEqual({
      ...entry,
      reported: ["pending_signature"],
    });
    expect(store.hubJobs.open().map((e) => e.jobId)).toEqual(["job-old"]);
    // Next start: nothing to read.
    expect(importJobLedgerFile(path, deps)).toEqual({ kind: "absent" });
  });

  test("an imported open job is tracked to its outcome and reported once", async () => {
    const store = tmp.open();
    const path = join(tmp.dir, HUB_JOB_LEDGER_FILE);
    const submitter = new FakeSubmitter({ async: true });
    const op = await submitter.submit({
      op: "guest.start",
      vmid: 101,
      params: {},
      origin: "job",
      jobId: "job-old",
      priority: "interactive",
    });
    submitter.finish(op.id, "failed", "boom");
    writeFileSync(
      path,
      JSON.stringify({ version: 1, jobs: [{ ...entry, operationId: op.id, reported: [] }] }),
    );
    importJobLedgerFile(path, { importRecords: (r) => store.hubJobs.importRecords(r), now: 0 });
    await runner(store, submitter).track();
    await runner(store, submitter).track();
    expect(results(store, "job-old")).toEqual(["failed"]);
  });

  const badFiles: Array<[string, string]> = [
    ["not JSON", "{ nope"],
    ["wrong version", JSON.stringify({ version: 2, jobs: [] })],
    ["unknown state", JSON.stringify({ version: 1, jobs: [{ ...entry, reported: ["done"] }] })],
    [
      "terminal without an outcome",
      JSON.stringify({ version: 1, jobs: [{ ...entry, terminal: true }] }),
    ],
    ["extra field", JSON.stringify({ version: 1, jobs: [{ ...entry, extra: 1 }] })],
  ];
  for (const [what, text] of badFiles) {
    test(`a bad file (${what}) is kept aside and reported, and the store is untouched`, () => {
      const store = tmp.open();
      const path = join(tmp.dir, HUB_JOB_LEDGER_FILE);
      writeFileSync(path, text);
      const r = importJobLedgerFile(path, {
        importRecords: (records) => store.hubJobs.importRecords(records),
        now: Date.UTC(2026, 0, 2),
      });
      expect(r).toMatchObject({
        kind: "invalid",
        keptAt: `${path}.invalid-2026-01-02T00-00-00-000Z`,
      });
      expect(existsSync(path)).toBe(false);
      expect(readFileSync(`${path}.invalid-2026-01-02T00-00-00-000Z`, "utf8")).toBe(text);
      expect(store.hubJobs.open()).toEqual([]);
      expect(readdirSync(tmp.dir).filter((f) => f.endsWith(".imported"))).toEqual([]);
    });
  }
});
