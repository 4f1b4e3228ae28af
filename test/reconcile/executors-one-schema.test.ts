import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ActionFacts, classify } from "../../src/gate/classify.ts";
import { OP_PARAMS, type ParamOp } from "../../src/ops/params/op-params.ts";
import { OP_NAMES } from "../../src/ops/types.ts";
import { EXECUTORS, executorFor } from "../../src/reconcile/executors.ts";
import { hostExecutorFor } from "../../src/reconcile/host-executors.ts";
import { apiHostExecutorFor } from "../../src/reconcile/storage-executors.ts";
import { allSpecifiers, ROOT } from "../architecture/import-graph.ts";

/**
 * An operation's parameters have one home, src/ops/params (docs/architecture.md#one-schema-per-operation):
 * the executor parses with that schema and the gate judges that same shape. These tests hold
 * the rule on the source and on behaviour.
 */

const GOLDEN = "local:backup/vzdump-lxc-9000-2026_01_01-00_00_00.tar.zst";
const KEY_A = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"A".repeat(43)}`;
const KEY_B = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"B".repeat(43)} ops@example`;

/** Per operation: params the shape accepts, and params it refuses (a key or a value wrong). */
const SAMPLES: Record<ParamOp, { ok: Record<string, unknown>[]; bad: Record<string, unknown>[] }> =
  {
    "guest.start": { ok: [{}], bad: [{ force: true }, { scratch: true }] },
    "guest.stop": { ok: [{}], bad: [{ overruleShutdown: true }] },
    "guest.shutdown": {
      ok: [{}, { timeoutSec: 30, forceStop: true }],
      bad: [{ timeoutSec: 3601 }, { timeoutSec: 30, extra: {} }],
    },
    "guest.config": {
      ok: [{ cores: 2 }, { delete: ["env"] }, { description: "x", digest: "ab12" }],
      bad: [{ digest: "ab12" }, { delete: ["rootfs"] }, { memoryMiB: 8 }, { onboot: true }],
    },
    "guest.resize": {
      ok: [
        { disk: "rootfs", size: "+1G" },
        { disk: "mp3", size: "+512M", digest: "ff" },
      ],
      bad: [
        { disk: "rootfs", size: "8G" },
        { disk: "unused0", size: "+1G" },
      ],
    },
    "guest.snapshot": {
      ok: [{ name: "pre-deploy" }, { name: "s1", description: "before" }],
      bad: [{ name: "vzdump" }, { name: "1abc" }, { name: "ok1", scratch: true }],
    },
    "guest.rollback": { ok: [{ name: "pre-deploy" }], bad: [{ name: "current" }, {}] },
    "guest.snapshot.delete": {
      ok: [{ name: "pre-deploy" }, { name: "pre-deploy", force: true }],
      bad: [{ name: "pre-deploy", force: "yes" }],
    },
    "guest.backup": {
      ok: [{ storage: "local" }, { storage: "local", remove: false, pruneBackups: "keep-all=1" }],
      bad: [{ storage: "-bad" }, { storage: "local", pruneBackups: "keep-last=3;rm" }],
    },
    "guest.provision": {
      ok: [{ archive: GOLDEN }, { archive: GOLDEN, net: { net0: "name=eth0,bridge=vmbr0" } }],
      bad: [
        { archive: GOLDEN, rootfs: "local:8" },
        { archive: GOLDEN, force: true },
      ],
    },
    "guest.restore": {
      ok: [{ archive: GOLDEN, force: true }],
      bad: [{ archive: "" }, { archive: GOLDEN, mp0: "local:8,mp=/srv" }],
    },
    "guest.destroy": { ok: [{}, { purge: true, force: true }], bad: [{ purge: 1 }] },
    "guest.backup.protect": {
      ok: [{ storage: "nas1", volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst" }],
      bad: [
        { storage: "nas1", volid: "usb1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst" },
        {
          storage: "nas1",
          volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst",
          protected: false,
        },
      ],
    },
    "guest.backup.delete": {
      ok: [{ storage: "nas1", volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst" }],
      bad: [
        { storage: "nas1", volid: "usb1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst" },
        { storage: "nas1", volid: "nas1:vztmpl/debian.tar.zst" },
        { storage: "nas1" },
      ],
    },
    "guest.backup.prune": {
      ok: [
        {
          storage: "nas1",
          pruneBackups: "keep-last=3,keep-daily=7",
          remove: ["nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst"],
        },
      ],
      bad: [
        {
          storage: "nas1",
          pruneBackups: "keep-all=1",
          remove: ["nas1:backup/vzdump-lxc-101-x.tar"],
        },
        { storage: "nas1", pruneBackups: "keep-last=3", remove: [] },
      ],
    },
    "backup.policy": {
      ok: [
        {
          policy: {
            tiers: {
              nas1: { schedule: { daily: "01:00-05:00" }, retention: { keep_last: 3 } },
            },
          },
        },
      ],
      bad: [
        { policy: { tiers: { nas1: { schedule: { daily: "25:00-05:00" }, retention: {} } } } },
        { policy: { tiers: {}, guests: { "101": { tiers: { pbs1: { exclude: true } } } } } },
      ],
    },
    "signers.rotate": {
      ok: [
        { signers: [] },
        {
          signers: [
            { name: "ops", key: KEY_A, role: "operational" },
            { name: "vault", key: KEY_B, role: "recovery", expires: "2030-01-01T00:00:00Z" },
          ],
        },
      ],
      bad: [
        { signers: [{ name: "ops", key: "ssh-rsa AAAAB3NzaC1yc2E", role: "operational" }] },
        { signers: [{ name: "ops", key: KEY_A, role: "admin" }] },
        {
          signers: [
            { name: "ops", key: KEY_A, role: "operational" },
            { name: "ops2", key: `${KEY_A} other`, role: "recovery" },
          ],
        },
        { signers: [], extra: true },
      ],
    },
    "golden.register": {
      ok: [{ volid: GOLDEN }],
      bad: [{ volid: "no-colon" }, { volid: GOLDEN, checksum: "md5:00" }],
    },
    "agent.update": {
      ok: [
        {
          version: "0.2.0",
          target: "x64",
          sha256: "a".repeat(64),
          size: 1024,
          expires: "2030-01-01T00:00:00Z",
        },
      ],
      bad: [
        {
          version: "0.2",
          target: "x64",
          sha256: "a".repeat(64),
          size: 1,
          expires: "2030-01-01T00:00:00Z",
        },
        {
          version: "0.2.0",
          target: "arm64",
          sha256: "a".repeat(64),
          size: 1,
          expires: "2030-01-01T00:00:00Z",
        },
        { version: "0.2.0", target: "x64", sha256: "A".repeat(64), size: 0, expires: "tomorrow" },
      ],
    },
    "storage.add": {
      ok: [
        { id: "usb1", kind: "usb", fs_uuid: "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3", class: "slow" },
        { id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup", role: "local" },
      ],
      bad: [
        { id: "usb1", kind: "usb", fs_uuid: "not-a-uuid" },
        { id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup", path: "/etc" },
        { id: "x", kind: "dir", path: "/" },
      ],
    },
    "storage.remove": { ok: [{ id: "usb1" }], bad: [{ id: "-x" }, { id: "usb1", force: true }] },
    "tunnel.configure": {
      ok: [{ token: { sealed: "AAAA" } }],
      bad: [{ token: "eyJhIjoi" }, { token: { sealed: "AAAA" }, restart: true }],
    },
  };

function parserFor(op: string): ((raw: unknown) => unknown) | undefined {
  return (
    executorFor(op)?.parseParams ??
    hostExecutorFor(op)?.parseParams ??
    apiHostExecutorFor(op)?.parseParams
  );
}

describe("one parameter schema per operation", () => {
  test("every operation the agent executes has its schema in src/ops/params, and no schema lacks an executor", () => {
    const executable = OP_NAMES.filter((op) => parserFor(op) !== undefined).sort();
    expect(Object.keys(OP_PARAMS).sort()).toEqual(executable);
    expect(Object.keys(EXECUTORS).every((op) => op in OP_PARAMS)).toBe(true);
  });

  test("each executor accepts exactly what its operation's schema accepts", () => {
    for (const [op, { ok, bad }] of Object.entries(SAMPLES)) {
      const parse = parserFor(op);
      expect(parse).toBeDefined();
      const schema = OP_PARAMS[op as ParamOp];
      for (const raw of ok) {
        expect(schema.safeParse(raw).success).toBe(true);
        expect(parse?.(raw)).toEqual(schema.parse(raw));
      }
      for (const raw of bad) {
        expect(schema.safeParse(raw).success).toBe(false);
        expect(() => parse?.(raw)).toThrow();
      }
    }
  });

  test("params the shape refuses are never benign at the gate, whatever the facts", () => {
    const generous: ActionFacts = {
      guest: { journalId: 1, sameTransaction: true, scratch: true, guestRequest: true },
      snapshot: { journalId: 1, sameTransaction: true, scratch: true, guestRequest: true },
      goldenImage: { volid: GOLDEN, source: "built" },
      storage: "absent",
    };
    for (const [op, { bad }] of Object.entries(SAMPLES)) {
      for (const params of bad) {
        const c = classify({ op, vmid: 101, params, origin: "localapi" }, generous);
        expect({ op, params, verdict: c.verdict }).toEqual({ op, params, verdict: "destructive" });
      }
    }
  });

  test("executors and the gate define no parameter shape of their own", () => {
    const files = [
      "src/reconcile/executors.ts",
      "src/reconcile/host-executors.ts",
      "src/reconcile/storage-executors.ts",
      "src/gate/param-rules.ts",
      "src/gate/classify.ts",
      "src/proxmox/client-types.ts",
    ];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), "utf8");
      expect({ file, shapes: text.match(/z\.(strictObject|object|looseObject)\(/g) ?? [] }).toEqual(
        {
          file,
          shapes: [],
        },
      );
    }
    const clientTypes = readFileSync(join(ROOT, "src/proxmox/client-types.ts"), "utf8");
    for (const name of ["RestoreLxcParams", "VzdumpParams", "ResizeParams", "DestroyParams"]) {
      expect(clientTypes).not.toContain(`export interface ${name}`);
    }
  });

  test("src/ops/params imports only zod and the rest of src/ops (it sits below gate and reconcile)", () => {
    const dir = join(ROOT, "src/ops/params");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const specs = allSpecifiers(readFileSync(join(dir, file), "utf8"));
      const outside = specs.filter(
        (s) =>
          s !== "zod" &&
          !s.startsWith("./") &&
          !s.startsWith("../types") &&
          !s.startsWith("../../util/"),
      );
      expect({ file, outside }).toEqual({ file, outside: [] });
    }
  });
});
