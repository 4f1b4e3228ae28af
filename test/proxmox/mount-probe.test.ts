import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMountProbe } from "../../src/proxmox/mount-probe.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A fake root with /dev/sdb1, its by-uuid link, and /proc/self/mounts with `mounts`. */
function fakeRoot(opts: { attached: boolean; mounts: string }): string {
  const r = mkdtempSync(join(tmpdir(), "felhom-mount-probe-"));
  mkdirSync(join(r, "dev/disk/by-uuid"), { recursive: true });
  mkdirSync(join(r, "proc/self"), { recursive: true });
  writeFileSync(join(r, "dev/sdb1"), "");
  if (opts.attached) symlinkSync("../../sdb1", join(r, "dev/disk/by-uuid", UUID));
  writeFileSync(join(r, "proc/self/mounts"), opts.mounts.replaceAll("ROOT", r));
  return r;
}

test("attached and mounted where the agent put it", async () => {
  root = fakeRoot({
    attached: true,
    mounts: "/dev/sda1 / ext4 rw 0 0\nROOT/dev/sdb1 /mnt/felhom/usb1 ext4 rw,nosuid 0 0\n",
  });
  expect(await createMountProbe(root).usb(UUID, "/mnt/felhom/usb1")).toEqual({
    attached: true,
    mounted: true,
  });
});

test("attached but mounted elsewhere, or not at all", async () => {
  root = fakeRoot({ attached: true, mounts: "ROOT/dev/sdb1 /media/other ext4 rw 0 0\n" });
  expect(await createMountProbe(root).usb(UUID, "/mnt/felhom/usb1")).toEqual({
    attached: true,
    mounted: false,
  });
});

test("not attached: no by-uuid link, whatever the mount table says", async () => {
  root = fakeRoot({ attached: false, mounts: "ROOT/dev/sdb1 /mnt/felhom/usb1 ext4 rw 0 0\n" });
  expect(await createMountProbe(root).usb(UUID, "/mnt/felhom/usb1")).toEqual({
    attached: false,
    mounted: false,
  });
});

test("a mount point with a space is read from its octal escape", async () => {
  root = fakeRoot({ attached: true, mounts: "ROOT/dev/sdb1 /mnt/felhom/usb\\0401 ext4 rw 0 0\n" });
  expect((await createMountProbe(root).usb(UUID, "/mnt/felhom/usb 1")).mounted).toBe(true);
});
