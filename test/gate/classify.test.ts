import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type ActionFacts, type ClassifiedAction, classify } from "../../src/gate/classify.ts";
import type { AgentOrigin, ProvenanceFacts } from "../../src/gate/provenance.ts";
import { OP_NAMES } from "../../src/ops/types.ts";

const none: ProvenanceFacts = {};
const NFS_TARGET = { id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup" };
const USB_TARGET = { id: "usb1", kind: "usb", fs_uuid: "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3" };
const CIFS_TARGET = {
  id: "smb1",
  kind: "cifs",
  server: "files.example.org",
  share: "drop",
  username: "x",
};
const PBS_TARGET = {
  id: "pbs1",
  kind: "pbs",
  server: "pbs.example.org",
  datastore: "drop",
  fingerprint: Array.from({ length: 32 }, () => "AB").join(":"),
  username: "x@pbs",
  password: { sealed: "AAAA" },
  master_pubkey: "TUlJQg==",
};
const origin = (o: Partial<AgentOrigin>): AgentOrigin => ({
  journalId: 7,
  sameTransaction: false,
  scratch: false,
  guestRequest: false,
  ...o,
});
const txnSnap: ProvenanceFacts = { snapshot: origin({ sameTransaction: true }) };
const scratchSnap: ProvenanceFacts = { snapshot: origin({ scratch: true }) };
const txnGuest: ProvenanceFacts = { guest: origin({ sameTransaction: true }) };
const scratchGuest: ProvenanceFacts = { guest: origin({ scratch: true }) };
// Created by the agent, but neither in this compound operation nor as scratch: the customer's.
const plainAgentSnap: ProvenanceFacts = { snapshot: origin({}) };
const plainAgentGuest: ProvenanceFacts = { guest: origin({}) };
// Taken by the agent at the guest's own request through the local API (docs/architecture.md#snapshot-before-deploy).
const guestOwnSnap: ProvenanceFacts = { snapshot: origin({ guestRequest: true }) };
const fromGuest = (op: string, params: Record<string, unknown>): ClassifiedAction => ({
  op,
  vmid: 101,
  params,
  origin: "localapi",
});

type Row = [string, ClassifiedAction, ActionFacts, "benign" | "destructive", string];
const GOLDEN = "local:backup/vzdump-lxc-9000-2026_01_01-00_00_00.tar.zst";
const golden: ActionFacts = { goldenImage: { volid: GOLDEN, source: "registered" } };
const GIB = 1024 ** 3;
const maxDisk = (maxDiskGiB: number, currentGiB?: number): ActionFacts => ({
  grow: {
    kind: "max_disk",
    maxDiskGiB,
    ...(currentGiB === undefined ? {} : { currentBytes: BigInt(currentGiB * GIB) }),
  },
});
const g = (op: string, params: Record<string, unknown> = {}, vmid = 101): ClassifiedAction => ({
  op,
  vmid,
  params,
});

const TABLE: Row[] = [
  // run state
  ["start", g("guest.start"), none, "benign", "run_state"],
  ["stop", g("guest.stop"), none, "benign", "run_state"],
  [
    "shutdown",
    g("guest.shutdown", { timeoutSec: 30, forceStop: true }),
    none,
    "benign",
    "run_state",
  ],
  [
    "start with an unknown param",
    g("guest.start", { skiplock: 1 }),
    none,
    "destructive",
    "unknown_params",
  ],
  // resources
  ["cores", g("guest.config", { cores: 4 }), none, "benign", "resources"],
  ["memory down", g("guest.config", { memoryMiB: 512 }), none, "benign", "resources"],
  ["description", g("guest.config", { description: "web" }), none, "benign", "resources"],
  [
    "delete description",
    g("guest.config", { delete: ["description"] }),
    none,
    "benign",
    "resources",
  ],
  [
    "delete env (bootstrap code)",
    g("guest.config", { delete: ["env"] }),
    none,
    "benign",
    "resources",
  ],
  ["mp0 removal", g("guest.config", { delete: ["mp0"] }), none, "destructive", "volume_change"],
  [
    "unused volume removal",
    g("guest.config", { delete: ["unused3"] }),
    none,
    "destructive",
    "volume_change",
  ],
  ["rootfs change", g("guest.config", { rootfs: "local:8" }), none, "destructive", "volume_change"],
  [
    "mount point replaced",
    g("guest.config", { mp1: "local:vm-101-disk-2,mp=/srv" }),
    none,
    "destructive",
    "volume_change",
  ],
  [
    "delete onboot (not listed)",
    g("guest.config", { delete: ["onboot"] }),
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "hostname (not listed)",
    g("guest.config", { hostname: "x" }),
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "cores as a string",
    g("guest.config", { cores: "4,mp0=local:1" }),
    none,
    "destructive",
    "unknown_params",
  ],
  ["empty config change", g("guest.config", {}), none, "destructive", "unknown_params"],
  ["digest alone", g("guest.config", { digest: "abc" }), none, "destructive", "unknown_params"],
  // disks
  ["grow rootfs", g("guest.resize", { disk: "rootfs", size: "+2G" }), none, "benign", "disk_grow"],
  ["grow mp3", g("guest.resize", { disk: "mp3", size: "+512M" }), none, "benign", "disk_grow"],
  [
    "grow by exactly the default 64 GiB",
    g("guest.resize", { disk: "rootfs", size: "+64G" }),
    none,
    "benign",
    "disk_grow",
  ],
  [
    "grow past the default per-operation bound",
    g("guest.resize", { disk: "rootfs", size: "+64.001G" }),
    none,
    "destructive",
    "grow_over_bound",
  ],
  [
    "grow by an absurd amount",
    g("guest.resize", { disk: "rootfs", size: "+999999999999T" }),
    none,
    "destructive",
    "grow_over_bound",
  ],
  [
    "grow by a configured per-operation bound",
    g("guest.resize", { disk: "rootfs", size: "+100G" }),
    { grow: { kind: "per_operation", maxGrowGiB: 128 } },
    "benign",
    "disk_grow",
  ],
  [
    "grow within max_disk_gib",
    g("guest.resize", { disk: "rootfs", size: "+92G" }),
    maxDisk(100, 8),
    "benign",
    "disk_grow",
  ],
  [
    "grow to exactly max_disk_gib, in bytes",
    g("guest.resize", { disk: "rootfs", size: "+98784247808" }),
    maxDisk(100, 8),
    "benign",
    "disk_grow",
  ],
  [
    "grow one byte past max_disk_gib",
    g("guest.resize", { disk: "rootfs", size: "+98784247809" }),
    maxDisk(100, 8),
    "destructive",
    "grow_over_bound",
  ],
  [
    "grow with max_disk_gib but the current size unknown",
    g("guest.resize", { disk: "rootfs", size: "+1G" }),
    maxDisk(100),
    "destructive",
    "grow_over_bound",
  ],
  [
    "absolute size",
    g("guest.resize", { disk: "rootfs", size: "8G" }),
    none,
    "destructive",
    "absolute_resize",
  ],
  [
    "odd disk",
    g("guest.resize", { disk: "unused0", size: "+1G" }),
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "negative growth",
    g("guest.resize", { disk: "rootfs", size: "+-1G" }),
    none,
    "destructive",
    "unknown_params",
  ],
  // snapshots
  [
    "snapshot create",
    g("guest.snapshot", { name: "ctl-deploy-1", description: "x" }),
    none,
    "benign",
    "snapshot_create",
  ],
  [
    "snapshot with a reserved name",
    g("guest.snapshot", { name: "current" }),
    none,
    "destructive",
    "unknown_params",
  ],
  ["rollback", g("guest.rollback", { name: "ctl-deploy-1" }), none, "destructive", "rollback"],
  [
    "the guest rolls back to its own local-API snapshot",
    fromGuest("guest.rollback", { name: "ctl-deploy-1" }),
    guestOwnSnap,
    "benign",
    "guest_own_snapshot",
  ],
  [
    "the guest deletes its own local-API snapshot",
    fromGuest("guest.snapshot.delete", { name: "ctl-deploy-1" }),
    guestOwnSnap,
    "benign",
    "guest_own_snapshot",
  ],
  [
    "the hub rolls back to a guest's local-API snapshot",
    { ...g("guest.rollback", { name: "ctl-deploy-1" }), origin: "job" },
    guestOwnSnap,
    "destructive",
    "rollback",
  ],
  [
    "the guest rolls back to a snapshot the agent did not take for it",
    fromGuest("guest.rollback", { name: "nightly" }),
    none,
    "destructive",
    "rollback",
  ],
  [
    "rollback: same transaction",
    g("guest.rollback", { name: "s1" }),
    txnSnap,
    "benign",
    "own_snapshot",
  ],
  [
    "rollback: scratch snapshot is still destructive",
    g("guest.rollback", { name: "s1" }),
    scratchSnap,
    "destructive",
    "rollback",
  ],
  [
    "rollback: agent-made, other transaction",
    g("guest.rollback", { name: "s1" }),
    plainAgentSnap,
    "destructive",
    "rollback",
  ],
  [
    "rollback on a scratch guest",
    g("guest.rollback", { name: "s1" }),
    scratchGuest,
    "benign",
    "own_snapshot",
  ],
  [
    "rollback on a guest made in this transaction",
    g("guest.rollback", { name: "s1" }),
    txnGuest,
    "benign",
    "own_snapshot",
  ],
  [
    "snapshot delete",
    g("guest.snapshot.delete", { name: "ctl-deploy-1" }),
    none,
    "destructive",
    "snapshot_delete",
  ],
  [
    "snapshot delete: same transaction",
    g("guest.snapshot.delete", { name: "s1" }),
    txnSnap,
    "benign",
    "own_snapshot",
  ],
  [
    "snapshot delete: scratch",
    g("guest.snapshot.delete", { name: "s1" }),
    scratchSnap,
    "benign",
    "own_snapshot",
  ],
  [
    "snapshot delete: agent-made, other transaction",
    g("guest.snapshot.delete", { name: "s1" }),
    plainAgentSnap,
    "destructive",
    "snapshot_delete",
  ],
  [
    "snapshot delete on a scratch guest",
    g("guest.snapshot.delete", { name: "s1" }),
    scratchGuest,
    "benign",
    "own_snapshot",
  ],
  // backups
  [
    "backup",
    g("guest.backup", { storage: "usb1", mode: "snapshot" }),
    none,
    "benign",
    "backup_run",
  ],
  [
    "backup that prunes",
    g("guest.backup", { storage: "usb1", remove: true }),
    none,
    "destructive",
    "backup_prune",
  ],
  [
    "backup with extra",
    g("guest.backup", { storage: "usb1", extra: { remove: 1 } }),
    none,
    "destructive",
    "unknown_params",
  ],
  // guests
  [
    "provision from a golden image",
    g("guest.provision", { archive: GOLDEN, hostname: "c1", unprivileged: true, unique: true }),
    golden,
    "benign",
    "provision_golden",
  ],
  [
    "provision from a golden image on the permitted bridge",
    g("guest.provision", { archive: GOLDEN, net: { net0: "name=eth0,bridge=vmbr0,ip=dhcp" } }),
    golden,
    "benign",
    "provision_golden",
  ],
  [
    "provision from another guest's backup",
    g("guest.provision", { archive: "local:backup/vzdump-lxc-101-2026_01_01-00_00_00.tar.zst" }),
    golden,
    "destructive",
    "not_golden",
  ],
  [
    "provision when no golden image is known",
    g("guest.provision", { archive: GOLDEN }),
    none,
    "destructive",
    "not_golden",
  ],
  [
    "provision privileged",
    g("guest.provision", { archive: GOLDEN, unprivileged: false }),
    golden,
    "destructive",
    "privileged",
  ],
  [
    "provision keeping the archive's MACs",
    g("guest.provision", { archive: GOLDEN, unique: false }),
    golden,
    "destructive",
    "not_unique",
  ],
  [
    "provision with a MAC given",
    g("guest.provision", { archive: GOLDEN, net: { net0: "name=eth0,hwaddr=BC:24:11:00:00:01" } }),
    golden,
    "destructive",
    "mac_given",
  ],
  [
    "provision on another bridge",
    g("guest.provision", { archive: GOLDEN, net: { net0: "name=eth0,bridge=vmbr9" } }),
    golden,
    "destructive",
    "provision_bridge",
  ],
  [
    "provision on a bridge the config permits",
    g("guest.provision", { archive: GOLDEN, net: { net0: "name=eth0,bridge=vmbr9" } }),
    { ...golden, provisionBridges: ["vmbr9"] },
    "benign",
    "provision_golden",
  ],
  [
    "provision choosing a VLAN",
    g("guest.provision", { archive: GOLDEN, net: { net0: "name=eth0,bridge=vmbr0,tag=20" } }),
    golden,
    "destructive",
    "unknown_params",
  ],
  [
    "provision with force",
    g("guest.provision", { archive: GOLDEN, force: true }),
    golden,
    "destructive",
    "restore_over",
  ],
  [
    "provision with a rootfs volume",
    g("guest.provision", { archive: "a", rootfs: "local:vm-100-disk-0" }),
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "restore",
    g("guest.restore", { archive: "a", force: true }),
    none,
    "destructive",
    "restore_over",
  ],
  [
    "restore over a scratch guest",
    g("guest.restore", { archive: "a", force: true }),
    scratchGuest,
    "benign",
    "own_guest",
  ],
  ["destroy", g("guest.destroy", { purge: true }), none, "destructive", "destroy"],
  ["destroy: agent-made long ago", g("guest.destroy"), plainAgentGuest, "destructive", "destroy"],
  ["destroy: made in this transaction", g("guest.destroy"), txnGuest, "benign", "own_guest"],
  [
    "destroy: scratch guest",
    g("guest.destroy", { force: true }),
    scratchGuest,
    "benign",
    "own_guest",
  ],
  // provenance claims in params are not provenance
  [
    "destroy with a scratch claim",
    g("guest.destroy", { scratch: true }),
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "destroy with a scratch claim on a scratch guest",
    g("guest.destroy", { scratch: true }),
    scratchGuest,
    "destructive",
    "unknown_params",
  ],
  [
    "snapshot delete with a provenance claim",
    g("guest.snapshot.delete", { name: "s1", provenance: { v: 1, scratch: true } }),
    none,
    "destructive",
    "unknown_params",
  ],
  // host level
  [
    "tunnel configure",
    { op: "tunnel.configure", params: { token: { sealed: "AAAA" } } },
    none,
    "destructive",
    "tunnel_token",
  ],
  [
    "tunnel configure with a clear token",
    { op: "tunnel.configure", params: { token: "eyJhIjoiYiJ9" } },
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "storage remove",
    { op: "storage.remove", params: { id: "usb1" } },
    none,
    "destructive",
    "storage_remove",
  ],
  [
    "storage remove with an unknown key",
    { op: "storage.remove", params: { id: "usb1", wipe: true } },
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "storage add not in the target shape",
    { op: "storage.add", params: { storage: "usb1" } },
    { storage: "absent" },
    "destructive",
    "unknown_params",
  ],
  [
    "storage add of a USB disk under a new id",
    { op: "storage.add", params: USB_TARGET },
    { storage: "absent" },
    "benign",
    "storage_add",
  ],
  [
    "storage add of a USB disk already defined exactly so",
    { op: "storage.add", params: USB_TARGET },
    { storage: "same" },
    "benign",
    "storage_present",
  ],
  [
    "storage add of a USB disk over another target's id",
    { op: "storage.add", params: USB_TARGET },
    { storage: "different" },
    "destructive",
    "storage_identity_change",
  ],
  [
    "storage add of an NFS target under a new id (backups would leave the host)",
    { op: "storage.add", params: NFS_TARGET },
    { storage: "absent" },
    "destructive",
    "storage_egress",
  ],
  [
    "storage add of a CIFS target under a new id",
    { op: "storage.add", params: CIFS_TARGET },
    { storage: "absent" },
    "destructive",
    "storage_egress",
  ],
  [
    "storage add of a PBS datastore with its own master key under a new id",
    { op: "storage.add", params: PBS_TARGET },
    { storage: "absent" },
    "destructive",
    "storage_egress",
  ],
  [
    "storage add of a network target already defined exactly so",
    { op: "storage.add", params: NFS_TARGET },
    { storage: "same" },
    "benign",
    "storage_present",
  ],
  [
    "storage add over another target's id (identity change)",
    { op: "storage.add", params: NFS_TARGET },
    { storage: "different" },
    "destructive",
    "storage_identity_change",
  ],
  [
    "storage add when Proxmox could not be read",
    { op: "storage.add", params: NFS_TARGET },
    none,
    "destructive",
    "storage_unknown",
  ],
  ["signers rotate", { op: "signers.rotate", params: {} }, none, "destructive", "host_change"],
  ["agent update", { op: "agent.update", params: {} }, none, "destructive", "host_change"],
  [
    "golden image registration",
    { op: "golden.register", params: { volid: GOLDEN } },
    none,
    "destructive",
    "host_change",
  ],
  [
    "backup.policy: always signed",
    {
      op: "backup.policy",
      params: {
        policy: {
          tiers: { nas1: { schedule: { every_hours: 6 }, retention: { keep_daily: 14 } } },
        },
      },
    },
    none,
    "destructive",
    "backup_policy",
  ],
  [
    "backup.policy with a stray key",
    { op: "backup.policy", params: { policy: { tiers: {} }, force: true } },
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "guest.backup.prune from the agent's retention step",
    {
      ...g("guest.backup.prune", {
        storage: "nas1",
        pruneBackups: "keep-last=3",
        remove: ["nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst"],
      }),
      origin: "schedule",
    },
    none,
    "benign",
    "own_retention",
  ],
  [
    "guest.backup.prune from a reconcile pass: never its job",
    {
      ...g("guest.backup.prune", {
        storage: "nas1",
        pruneBackups: "keep-last=3",
        remove: ["nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst"],
      }),
      origin: "reconcile",
    },
    none,
    "destructive",
    "backup_prune",
  ],
  [
    "guest.backup.protect from the agent's retention step",
    {
      ...g("guest.backup.protect", {
        storage: "nas1",
        volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst",
      }),
      origin: "schedule",
    },
    none,
    "benign",
    "own_monthly_point",
  ],
  [
    "guest.backup.protect asked by the hub: protected backups could fill the storage",
    {
      ...g("guest.backup.protect", {
        storage: "nas1",
        volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst",
      }),
      origin: "job",
    },
    none,
    "destructive",
    "backup_protect",
  ],
  [
    "guest.backup.protect with a stray key, even from the schedule",
    {
      ...g("guest.backup.protect", {
        storage: "nas1",
        volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst",
        protected: false,
      }),
      origin: "schedule",
    },
    none,
    "destructive",
    "unknown_params",
  ],
  [
    "guest.backup.prune asked by the hub",
    {
      ...g("guest.backup.prune", {
        storage: "nas1",
        pruneBackups: "keep-last=1",
        remove: ["nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst"],
      }),
      origin: "job",
    },
    none,
    "destructive",
    "backup_prune",
  ],
  [
    "guest.backup.delete: even on a scratch guest",
    g("guest.backup.delete", {
      storage: "nas1",
      volid: "nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst",
    }),
    scratchGuest,
    "destructive",
    "backup_delete",
  ],
  // unknown
  ["unknown op", g("guest.migrate", {}), none, "destructive", "unknown_op"],
  ["unknown op despite provenance", g("guest.wipe", {}), scratchGuest, "destructive", "unknown_op"],
  ["guest op without a guest", { op: "guest.start", params: {} }, none, "destructive", "no_guest"],
  [
    "params not an object",
    { op: "guest.start", vmid: 101, params: [] },
    none,
    "destructive",
    "unknown_params",
  ],
];

describe("classifier table", () => {
  for (const [name, action, facts, verdict, rule] of TABLE) {
    test(`${name} → ${verdict} (${rule})`, () => {
      const c = classify(action, facts);
      expect({ verdict: c.verdict, rule: c.rule }).toEqual({ verdict, rule });
      expect(c.reason.length).toBeGreaterThan(0);
    });
  }

  test("every operation of the vocabulary has a row, and the table covers both verdicts", () => {
    const covered = new Set(TABLE.map(([, a]) => a.op));
    for (const op of OP_NAMES) expect(covered.has(op)).toBe(true);
  });

  test("a network target's reason names the server the backups would go to", () => {
    const c = classify({ op: "storage.add", params: PBS_TARGET }, { storage: "absent" });
    expect(c.reason).toBe(
      "backups to it would copy customer data to pbs.example.org, off this host",
    );
  });

  test("a benign removal names the journal entry that proved it", () => {
    const c = classify(g("guest.destroy"), { guest: origin({ journalId: 42, scratch: true }) });
    expect(c.provenanceJournalId).toBe(42);
  });

  test("an unknown parameter is named in the reason", () => {
    const c = classify(g("guest.destroy", { scratch: true }), none);
    expect(c.reason).toContain("'scratch'");
  });
});

describe("classifier properties", () => {
  const anyFacts = fc.record(
    {
      guest: fc.record({
        journalId: fc.nat(),
        sameTransaction: fc.boolean(),
        scratch: fc.boolean(),
        guestRequest: fc.boolean(),
      }),
      snapshot: fc.record({
        journalId: fc.nat(),
        sameTransaction: fc.boolean(),
        scratch: fc.boolean(),
        guestRequest: fc.boolean(),
      }),
    },
    { requiredKeys: [] },
  );

  test("an operation outside the vocabulary is destructive whatever the facts", () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !(OP_NAMES as readonly string[]).includes(s)),
        fc.dictionary(fc.string(), fc.jsonValue()),
        anyFacts,
        (op, params, facts) => classify({ op, vmid: 101, params }, facts).verdict === "destructive",
      ),
    );
  });

  test("an extra parameter never makes an operation benign", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TABLE.map(([, a]) => a)),
        fc.string({ minLength: 1 }).filter((k) => !["delete", "__proto__"].includes(k)),
        fc.jsonValue(),
        anyFacts,
        (action, key, value, facts) => {
          const params = action.params as Record<string, unknown>;
          if (Array.isArray(params) || key in params) return true;
          const before = classify(action, facts);
          const after = classify({ ...action, params: { ...params, [key]: value } }, facts);
          // Unknown keys are refused; known ones may change the verdict only towards destructive.
          return after.verdict === "destructive" || before.verdict === "benign";
        },
      ),
    );
  });

  test("the classifier never throws", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OP_NAMES, "x.y"),
        fc.option(fc.integer(), { nil: undefined }),
        fc.anything(),
        anyFacts,
        (op, vmid, params, facts) => {
          const action: ClassifiedAction =
            vmid === undefined ? { op, params } : { op, vmid, params };
          const c = classify(action, facts);
          return c.verdict === "benign" || c.verdict === "destructive";
        },
      ),
    );
  });
});
