import { describe, expect, test } from "bun:test";
import { parseDiskSize, parseGrowth, volumeSize } from "../../src/gate/disk-size.ts";

describe("PVE disk sizes, read exactly", () => {
  test.each([
    ["0", 0n],
    ["512", 512n],
    ["1K", 1024n],
    ["8G", 8n * 1024n ** 3n],
    ["1.5M", 1_572_864n],
    // PVE truncates to whole bytes: 0.3 KiB = 307.2 bytes.
    ["0.3K", 307n],
    ["999999999999T", 999_999_999_999n * 1024n ** 4n],
  ] as const)("%s = %p bytes", (text, bytes) => {
    expect(parseDiskSize(text)).toBe(bytes);
  });

  test("far beyond 2^53 stays exact", () => {
    const bytes = parseGrowth("+999999999999T") as bigint;
    expect(bytes > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(bytes % 1024n ** 4n).toBe(0n);
  });

  test.each(["", "G", "-1G", "1g", "1P", "1.G", ".5G", "1e3", "1 G", "0x10", "1,5G"])(
    "'%s' is not a size",
    (text) => {
      expect(parseDiskSize(text)).toBeUndefined();
    },
  );

  test("a growth needs its '+'", () => {
    expect(parseGrowth("+2G")).toBe(2n * 1024n ** 3n);
    expect(parseGrowth("2G")).toBeUndefined();
    expect(parseGrowth("+-2G")).toBeUndefined();
  });

  test("the size of a volume as the guest config stores it", () => {
    expect(volumeSize("local-lvm:vm-101-disk-0,size=8G")).toBe(8n * 1024n ** 3n);
    expect(volumeSize("local:101/vm-101-disk-0.raw,mp=/srv,size=512M,backup=1")).toBe(
      512n * 1024n ** 2n,
    );
    expect(volumeSize("local-lvm:vm-101-disk-0")).toBeUndefined();
    expect(volumeSize("local-lvm:vm-101-disk-0,size=huge")).toBeUndefined();
  });
});
