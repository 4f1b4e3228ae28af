import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diskFullError, isDiskFull, StoreError } from "../../src/store/errors.ts";
import { openStore } from "../../src/store/open.ts";
import { thrown } from "./support.ts";

describe("isDiskFull", () => {
  test("ENOSPC and SQLITE_FULL, also as a cause; nothing else", () => {
    expect(isDiskFull({ code: "ENOSPC" })).toBe(true);
    expect(isDiskFull({ code: "SQLITE_FULL" })).toBe(true);
    expect(isDiskFull(new Error("wrapped", { cause: { code: "SQLITE_FULL" } }))).toBe(true);
    expect(isDiskFull({ code: "EACCES" })).toBe(false);
    expect(isDiskFull({ code: "SQLITE_CANTOPEN" })).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
    // An SQLite I/O error counts only while the filesystem really is (nearly) full.
    expect(isDiskFull({ code: "SQLITE_IOERR_SHMSIZE" })).toBe(false);
    expect(isDiskFull({ code: "SQLITE_IOERR_SHMSIZE" }, tmpdir())).toBe(false);
    const err = diskFullError("/var/lib/felhom-agent/state.db", { code: "ENOSPC" });
    expect(err.kind).toBe("disk_full");
    expect(err.message).toContain("disk holding /var/lib/felhom-agent/state.db is full");
  });
});

/**
 * A real full filesystem: a 16 KiB tmpfs, filled. Mounting needs root (CI runs as root);
 * elsewhere the test says why it is skipped.
 */
const mountPoint = mkdtempSync(join(tmpdir(), "felhom-full-"));
let mounted = false;
beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  const r = Bun.spawnSync([
    "mount",
    "-t",
    "tmpfs",
    "-o",
    "size=16k,mode=0700",
    "tmpfs",
    mountPoint,
  ]);
  mounted = r.exitCode === 0;
  if (!mounted)
    console.warn(`disk-full tests skipped: cannot mount a tmpfs (${r.stderr.toString().trim()})`);
});
afterAll(() => {
  if (mounted) Bun.spawnSync(["umount", mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

function fill(bytes: number): void {
  try {
    writeFileSync(join(mountPoint, "fill"), Buffer.alloc(bytes));
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOSPC") throw err;
  }
}

describe("a full disk at start-up", () => {
  for (const [name, bytes] of [
    ["no space at all", 64 * 1024],
    ["room for a page or two", 4 * 1024],
  ] as const) {
    test(`${name}: disk_full, saying the disk is full, not blaming the lock or permissions`, () => {
      if (!mounted) return;
      rmSync(join(mountPoint, "fill"), { force: true });
      for (const f of ["state.db", "state.db-wal", "state.db-shm"]) {
        rmSync(join(mountPoint, f), { force: true });
      }
      fill(bytes);
      const err = thrown(() => openStore({ path: join(mountPoint, "state.db") }));
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("disk_full");
      expect((err as StoreError).message).toContain("is full");
      expect((err as StoreError).message).not.toContain("permissions");
      expect((err as StoreError).message).not.toContain(".lock");
    });
  }
});
