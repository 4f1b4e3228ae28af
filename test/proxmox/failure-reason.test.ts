import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseFailureReason } from "../../src/proxmox/failure-reason.ts";

describe("parseFailureReason (docs/proxmox-behaviour.md#api-envelope-and-errors, docs/proxmox-behaviour.md#locks)", () => {
  test.each([
    [
      "Permission check failed (/vms/100, VM.Snapshot)",
      { kind: "permission", aclPath: "/vms/100", privileges: ["VM.Snapshot"], anyOf: false },
    ],
    [
      "Permission check failed (/storage/local, Datastore.AllocateSpace|Datastore.Allocate)",
      {
        kind: "permission",
        anyOf: true,
        privileges: ["Datastore.AllocateSpace", "Datastore.Allocate"],
      },
    ],
    ["Permission check failed", { kind: "permission", privileges: [], tokenNotAllowed: false }],
    [
      "CT is locked (snapshot-delete)",
      { kind: "locked", guestType: "CT", lock: "snapshot-delete" },
    ],
    ["VM is locked (backup)", { kind: "locked", guestType: "VM", lock: "backup" }],
    [
      "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout",
      { kind: "lock_timeout", file: "/run/lock/lxc/pve-config-100.lock" },
    ],
    [
      "Configuration file 'nodes/pve/lxc/104.conf' does not exist",
      { kind: "missing_guest", vmid: 104 },
    ],
    ["snapshot 'foo' does not exist", { kind: "other" }],
  ])("%p", (text, expected) => {
    expect(parseFailureReason(text)).toMatchObject(expected);
  });

  test("never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parseFailureReason(s);
        expect(typeof r.kind).toBe("string");
      }),
    );
  });
});
