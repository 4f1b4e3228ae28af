import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { formatUpid, parseUpid, splitTaskUser, UpidParseError } from "../src/proxmox/upid.ts";

describe("UPID", () => {
  test("parses the captured real-server UPID (docs/proxmox-behaviour.md#task-status)", () => {
    const u = parseUpid("UPID:dahu-2:00007323:001036A5:6419CAF8:qmstart:100:root@pam:");
    expect(u).toEqual({
      node: "dahu-2",
      pid: 0x7323,
      pstart: 0x001036a5,
      starttime: 1679411960,
      type: "qmstart",
      id: "100",
      user: "root@pam",
    });
  });

  test("accepts a 9-hex-digit pstart (uptime past 497 days)", () => {
    const u = parseUpid("UPID:pve:0000ABCD:1000036A5:6419CAF8:vzstart:101:root@pam:");
    expect(u.pstart).toBe(0x1000036a5);
  });

  test("accepts an empty id", () => {
    const u = parseUpid("UPID:pve:0000ABCD:001036A5:6419CAF8:aptupdate::root@pam:");
    expect(u.id).toBe("");
    expect(u.type).toBe("aptupdate");
  });

  test("keeps the token in the user field and splits it like task status does", () => {
    const u = parseUpid(
      "UPID:pve:0000ABCD:001036A5:6419CAF8:vzsnapshot:101:felhom-agent@pve!agent:",
    );
    expect(u.user).toBe("felhom-agent@pve!agent");
    expect(splitTaskUser(u.user)).toEqual({ user: "felhom-agent@pve", tokenid: "agent" });
    expect(splitTaskUser("root@pam")).toEqual({ user: "root@pam" });
  });

  test.each([
    "",
    "UPID:pve:0000ABCD:001036A5:6419CAF8:vzstart:101:root@pam", // no trailing colon
    "UPID:pve:ABCD:001036A5:6419CAF8:vzstart:101:root@pam:", // short pid
    "UPID:-pve:0000ABCD:001036A5:6419CAF8:vzstart:101:root@pam:", // bad node
    "UPID:pve:0000ABCD:001036A5:6419CAF8::101:root@pam:", // empty type
    "UPID:pve:0000ABCD:001036A5:6419CAF8:vz start:101:root@pam:", // whitespace
    "UPID:pve:0000ABCD:001036A5:6419CAF8:vzstart:101::", // empty user
    "upid:pve:0000ABCD:001036A5:6419CAF8:vzstart:101:root@pam:",
  ])("rejects malformed %p", (bad) => {
    expect(() => parseUpid(bad)).toThrow(UpidParseError);
  });

  test("format and parse round-trip (property)", () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
    const field = fc.stringMatching(/^[^:\s/]{1,12}$/);
    fc.assert(
      fc.property(
        label,
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xfffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        field,
        fc.oneof(fc.constant(""), field),
        field,
        (node, pid, pstart, starttime, type, id, user) => {
          const u = { node, pid, pstart, starttime, type, id, user };
          const text = formatUpid(u);
          expect(text).toMatch(/^UPID:.*:$/);
          expect(parseUpid(text)).toEqual(u);
        },
      ),
    );
  });
});
