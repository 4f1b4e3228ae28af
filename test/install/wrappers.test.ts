import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import type { Runner } from "../../src/proxmox/runner.ts";
import { createSpawnRunner } from "../../src/proxmox/runner.ts";
import {
  isRoot,
  makeRelease,
  PRIV_DIR,
  runInstall,
  tempDirs,
  visudoMissing,
  WRAPPERS,
  which,
} from "./support.ts";

// The root wrappers install.sh writes, taken from a --root install. Each copy has its real
// command swapped for a recorder (and the fstab path for a temporary file), so the tests see
// exactly what would have run as root, or that nothing ran.

const tmp = tempDirs();
// The wrappers come from a real install, which needs visudo.
const noVisudo = visudoMissing();
let dir: string;
let log: string;
let fstab: string;
let disks: string;
const wrapper: Record<string, string> = {};

beforeAll(async () => {
  if (noVisudo) return;
  const base = await tmp.make();
  const root = join(base, "root");
  await mkdir(root);
  const rel = await makeRelease(join(base, "rel"), "1.0.0");
  expect(runInstall(["--root", root, "--binary", rel.binary]).code).toBe(0);
  dir = join(base, "w");
  await mkdir(dir);
  log = join(dir, "calls.log");
  fstab = join(dir, "fstab");
  disks = join(dir, "disks");
  // blkid and udevadm stand-ins that answer from a table of disks ("UUID DEVICE BUS FSTYPE"),
  // in the real tools' output formats and exit codes: `blkid -U` prints the device or exits 2
  // silently; `udevadm info --query=property` prints KEY=VALUE lines or fails on stderr.
  await writeFile(
    join(dir, "fake-blkid"),
    `#!/bin/sh
[ "$1" = -U ] || exit 4
awk -v u="$2" '$1 == u { print $2; found = 1; exit } END { exit !found * 2 }' '${disks}'
`,
  );
  await writeFile(
    join(dir, "fake-udevadm"),
    `#!/bin/sh
[ "$1 $2" = "info --query=property" ] || exit 1
dev=\${3#--name=}
line=$(awk -v d="$dev" '$2 == d { print; exit }' '${disks}')
if [ -z "$line" ]; then echo "Unknown device "$dev": No such device" >&2; exit 1; fi
set -- $line
n=\${2#/dev/}
cat <<PROPS
DEVPATH=/devices/pci0000:00/0000:00:14.0/block/\${n%[0-9]}/$n
DEVNAME=$2
DEVTYPE=partition
SUBSYSTEM=block
ID_BUS=$3
ID_MODEL=Disk
ID_FS_UUID=$1
ID_FS_TYPE=$4
ID_FS_USAGE=filesystem
PROPS
`,
  );
  await chmod(join(dir, "fake-blkid"), 0o755);
  await chmod(join(dir, "fake-udevadm"), 0o755);
  const recorder = `#!/bin/sh
{ printf '%s' "@NAME@"; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\n'; } >>'${log}'
case @NAME@ in
  findmnt) case "$*" in *--fstab*) echo '{"filesystems":[]}' ;; *) exit 1 ;; esac ;;
  smartctl) echo '{"smartctl":{"exit_status":0},"device":{"name":"/dev/sdb","protocol":"ATA"}}' ;;
esac
`;
  for (const w of WRAPPERS) {
    await writeFile(join(dir, `real-${w}`), recorder.replaceAll("@NAME@", w));
    await chmod(join(dir, `real-${w}`), 0o755);
    const text = (await readFile(join(root, PRIV_DIR, w), "utf8"))
      .replace(/^REAL='[^']*'$/m, `REAL='${dir}/real-${w}'`)
      .replace(/^FSTAB='\/etc\/fstab'$/m, `FSTAB='${fstab}'`)
      .replace(/^BLKID='[^']*'$/m, `BLKID='${dir}/fake-blkid'`)
      .replace(/^UDEVADM='[^']*'$/m, `UDEVADM='${dir}/fake-udevadm'`);
    wrapper[w] = join(dir, w);
    await writeFile(wrapper[w] as string, text);
    await chmod(wrapper[w] as string, 0o755);
  }
});

afterAll(() => tmp.cleanup());

beforeEach(async () => {
  if (noVisudo) return;
  await writeFile(log, "");
  await writeFile(fstab, "# /etc/fstab\nUUID=aaaa-bbbb /boot/efi vfat umask=0077 0 1\n");
  await writeFile(
    disks,
    [
      "0a1b2c3d-1111-2222-3333-444455556666 /dev/sdb1 usb ext4",
      "ABCD-1234 /dev/sdc1 usb exfat",
      "11111111-2222-3333-4444-555555555555 /dev/sda2 ata ext4",
      "22222222-3333-4444-5555-666666666666 /dev/nvme0n1p3 nvme xfs",
      "33333333-4444-5555-6666-777777777777 /dev/sdd1 usb squashfs",
      "44444444-5555-6666-7777-888888888888 /dev/sde1 usb",
      "",
    ].join("\n"),
  );
});

interface Ran {
  code: number;
  stderr: string;
  calls: string[];
}

async function calls(): Promise<string[]> {
  return (await readFile(log, "utf8")).split("\n").filter((l) => l !== "");
}

async function call(name: string, args: string[], stdin?: string): Promise<Ran> {
  const p = Bun.spawnSync([wrapper[name] as string, ...args], {
    stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin" },
  });
  return { code: p.exitCode ?? -1, stderr: p.stderr.toString(), calls: await calls() };
}

const unshare = which("unshare");
const canNamespace =
  isRoot &&
  unshare !== null &&
  Bun.spawnSync([unshare, "-m", "--propagation", "private", "true"]).exitCode === 0;

// A private mount namespace with an empty tmpfs on /mnt (root-owned, 0755) holding /mnt/usb1,
// so mountpoint checks run against real directories without touching the host.
const NS_SETUP = "mount -t tmpfs -o mode=0755 tmpfs /mnt && mkdir -p /mnt/usb1";

async function callInNs(name: string, args: string[], extraSetup = ""): Promise<Ran> {
  const setup = extraSetup ? `${NS_SETUP} && ${extraSetup}` : NS_SETUP;
  const p = Bun.spawnSync(
    [
      unshare as string,
      "-m",
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      `${setup} && exec "$@"`,
      "sh",
      wrapper[name] as string,
      ...args,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  return { code: p.exitCode ?? -1, stderr: p.stderr.toString(), calls: await calls() };
}

const bracket = (name: string, args: string[]) => `${name}${args.map((a) => ` [${a}]`).join("")}`;

const GOLDEN = [
  "create",
  "9000",
  "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
  "--unprivileged",
  "1",
  "--features",
  "nesting=1,keyctl=1",
  "--rootfs",
  "local-lvm:8",
];

describe.skipIf(noVisudo)("pct wrapper: golden image create only", () => {
  test.each([
    [GOLDEN],
    [
      [
        ...GOLDEN,
        "--cores",
        "2",
        "--memory",
        "2048",
        "--swap",
        "512",
        "--hostname",
        "golden.example.lan",
        "--net0",
        "name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1",
      ],
    ],
    [[...GOLDEN, "--net0", "name=eth0,bridge=vmbr1,ip=dhcp"]],
  ])("runs pct with exactly the arguments given: %j", async (args) => {
    const r = await call("pct", args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([bracket("pct", args)]);
  });

  const swap = (i: number, v: string) => GOLDEN.map((a, j) => (j === i ? v : a));
  test.each([
    ["another subcommand", ["destroy", "9000"]],
    ["set instead of create", swap(0, "set")],
    ["a vmid below 100", swap(1, "99")],
    ["a template path", swap(2, "/var/lib/vz/template/cache/x.tar.zst")],
    ["a template with ..", swap(2, "local:vztmpl/../../etc/passwd")],
    ["a privileged container", swap(4, "0")],
    ["other features", swap(6, "nesting=1,keyctl=1,mount=nfs")],
    ["a rootfs with options", swap(8, "local-lvm:8,mountoptions=noatime")],
    ["a rootfs of 0 GB", swap(8, "local-lvm:0")],
    ["a mount point option", [...GOLDEN, "--mp0", "/:/host"]],
    ["a device option", [...GOLDEN, "--dev0", "/dev/sda"]],
    ["a hookscript", [...GOLDEN, "--hookscript", "local:snippets/x.sh"]],
    ["a hostname that is an option", [...GOLDEN, "--hostname", "-x"]],
    ["a cores value with a leading zero", [...GOLDEN, "--cores", "02"]],
    ["a repeated option", [...GOLDEN, "--cores", "2", "--cores", "4"]],
    ["an option without its value", [...GOLDEN, "--cores"]],
    ["extra net0 keys", [...GOLDEN, "--net0", "name=eth0,bridge=vmbr0,ip=dhcp,firewall=0"]],
    ["a bad gateway", [...GOLDEN, "--net0", "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.256"]],
    ["a newline in a value", [...GOLDEN, "--hostname", "a\nb"]],
    ["--force", [...GOLDEN, "--force", "1"]],
  ])("refuses %s and runs nothing", async (_what, args) => {
    const r = await call("pct", args);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^felhom-agent pct: refused: /);
    expect(r.calls).toEqual([]);
  });
});

describe.skipIf(noVisudo)("smartctl wrapper: read-only reports", () => {
  test.each([
    [["-a", "-j", "/dev/sda"]],
    [["-a", "-j", "-d", "sat", "/dev/sdb"]],
    [["-a", "-j", "/dev/nvme0n1"]],
    [["-a", "-j", "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K1234567"]],
  ])("runs %j", async (args) => {
    const r = await call("smartctl", args);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([bracket("smartctl", args)]);
  });

  test.each([
    ["disabling SMART", ["-a", "-j", "-s", "off", "/dev/sda"]],
    ["starting a self-test", ["-t", "long", "/dev/sda"]],
    ["a device type with options", ["-a", "-j", "-d", "sat,12", "/dev/sda"]],
    ["a path outside /dev", ["-a", "-j", "/etc/shadow"]],
    ["a path escaping /dev", ["-a", "-j", "/dev/../etc/shadow"]],
    ["two devices", ["-a", "-j", "/dev/sda", "/dev/sdb"]],
  ])("refuses %s", async (_what, args) => {
    const r = await call("smartctl", args);
    expect(r.code).toBe(64);
    expect(r.calls).toEqual([]);
  });
});

describe.skipIf(noVisudo)("findmnt wrapper: the two read queries", () => {
  test("fstab listing and one mountpoint", async () => {
    const a = ["--fstab", "--json", "--output", "SOURCE,TARGET,FSTYPE,OPTIONS"];
    const b = ["--json", "--output", "SOURCE,TARGET,FSTYPE,UUID", "--mountpoint", "/mnt/usb1"];
    expect((await call("findmnt", a)).code).toBe(0);
    expect((await call("findmnt", b)).code).toBe(1); // the recorder: nothing mounted there
    expect(await calls()).toEqual([bracket("findmnt", a), bracket("findmnt", b)]);
  });

  test.each([
    ["reading another file as a table", ["--tab-file", "/etc/shadow", "--json"]],
    ["other columns", ["--fstab", "--json", "--output", "SOURCE,TARGET,FSTYPE,OPTIONS,LABEL"]],
    [
      "a mountpoint outside /mnt and /media",
      ["--json", "--output", "SOURCE,TARGET,FSTYPE,UUID", "--mountpoint", "/etc"],
    ],
  ])("refuses %s", async (_what, args) => {
    const r = await call("findmnt", args);
    expect(r.code).toBe(64);
    expect(r.calls).toEqual([]);
  });
});

describe.skipIf(noVisudo)("tee wrapper: one checked fstab entry", () => {
  const entry = (line: string) => `\n# felhom-agent: USB storage\n${line}\n`;
  const GOOD =
    "UUID=0a1b2c3d-1111-2222-3333-444455556666 /mnt/usb1 ext4 nofail,nosuid,nodev,noexec 0 0";

  test("appends the entry the agent sends", async () => {
    const before = await readFile(fstab, "utf8");
    const r = await call("tee", ["-a", fstab], entry(GOOD));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await readFile(fstab, "utf8")).toBe(`${before}${entry(GOOD)}`);
  });

  test("refuses a second entry for the same disk or mountpoint", async () => {
    expect((await call("tee", ["-a", fstab], entry(GOOD))).code).toBe(0);
    const after = await readFile(fstab, "utf8");
    const sameTarget = GOOD.replace("0a1b2c3d", "ffffffff");
    for (const line of [GOOD, sameTarget]) {
      const r = await call("tee", ["-a", fstab], entry(line));
      expect(r.code).toBe(64);
      expect(r.stderr).toContain("fstab already has an entry");
    }
    expect(await readFile(fstab, "utf8")).toBe(after);
  });

  test.each([
    ["another file", ["-a", "/etc/passwd"], entry(GOOD)],
    ["overwriting instead of appending", [fstab], entry(GOOD)],
    ["a second line smuggled in", ["-a", fstab], entry(`${GOOD}\n/dev/sdz1 / ext4 defaults 0 0`)],
    [
      "other mount options",
      ["-a", fstab],
      entry(GOOD.replace("nofail,nosuid,nodev,noexec", "defaults")),
    ],
    ["suid allowed", ["-a", fstab], entry(GOOD.replace("nosuid", "suid"))],
    ["a mountpoint over /usr", ["-a", fstab], entry(GOOD.replace("/mnt/usb1", "/usr"))],
    [
      "a mountpoint in Proxmox's /mnt/pve",
      ["-a", fstab],
      entry(GOOD.replace("/mnt/usb1", "/mnt/pve/nfs")),
    ],
    ["a device instead of a UUID", ["-a", fstab], entry(GOOD.replace(/^UUID=\S+/, "/dev/sdb1"))],
    ["a missing comment line", ["-a", fstab], `${GOOD}\n`],
    ["a bind mount type", ["-a", fstab], entry(GOOD.replace(" ext4 ", " none "))],
  ])("refuses %s and leaves fstab alone", async (_what, args, stdin) => {
    const before = await readFile(fstab, "utf8");
    const r = await call("tee", args, stdin);
    expect(r.code).toBe(64);
    expect(await readFile(fstab, "utf8")).toBe(before);
  });
});

describe.skipIf(noVisudo || !canNamespace)(
  "mkdir and mount wrappers (private mount namespace)",
  () => {
    test("mkdir creates a mountpoint below /mnt", async () => {
      const r = await callInNs("mkdir", ["-p", "/mnt/usb2/disk"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([bracket("mkdir", ["-p", "/mnt/usb2/disk"])]);
    });

    test.each([
      ["a path outside /mnt and /media", ["-p", "/etc/cron.d"], ""],
      ["a path escaping with ..", ["-p", "/mnt/../etc/x"], ""],
      ["Proxmox's /mnt/pve", ["-p", "/mnt/pve/x"], ""],
      ["/mnt itself", ["-p", "/mnt"], ""],
      ["other options", ["-m", "4777", "/mnt/x"], ""],
      ["a symbolic link on the way", ["-p", "/mnt/link/x"], "ln -s /etc /mnt/link"],
      ["a directory others may write", ["-p", "/mnt/open/x"], "mkdir -m 0777 /mnt/open"],
      [
        "a directory not owned by root",
        ["-p", "/mnt/theirs/x"],
        "mkdir /mnt/theirs && chown 65534 /mnt/theirs",
      ],
    ])("mkdir refuses %s", async (_what, args, setup) => {
      const r = await callInNs("mkdir", args, setup);
      expect(r.code).toBe(64);
      expect(r.calls).toEqual([]);
    });

    // The checked device is mounted, with the type udev read from it.
    test.each([
      [
        ["-o", "nosuid,nodev,noexec", "UUID=0a1b2c3d-1111-2222-3333-444455556666", "/mnt/usb1"],
        ["-o", "nosuid,nodev,noexec", "-t", "ext4", "/dev/sdb1", "/mnt/usb1"],
      ],
      [
        ["-o", "nosuid,nodev,noexec", "-t", "exfat", "UUID=ABCD-1234", "/mnt/usb1"],
        ["-o", "nosuid,nodev,noexec", "-t", "exfat", "/dev/sdc1", "/mnt/usb1"],
      ],
    ])("mount runs %j on the USB disk's device", async (args, ran) => {
      const r = await callInNs("mount", args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.calls).toEqual([bracket("mount", ran)]);
    });

    const O = ["-o", "nosuid,nodev,noexec"];
    test.each([
      [
        "a non-empty mount point",
        [...O, "UUID=ABCD-1234", "/mnt/usb1"],
        "touch /mnt/usb1/.keep",
        /not empty/,
      ],
      [
        "a mount point holding a directory",
        [...O, "UUID=ABCD-1234", "/mnt/usb1"],
        "mkdir /mnt/usb1/data",
        /not empty/,
      ],
      [
        "a filesystem on an internal SATA disk",
        [...O, "UUID=11111111-2222-3333-4444-555555555555", "/mnt/usb1"],
        "",
        /not on a USB-attached disk/,
      ],
      [
        "a filesystem on an NVMe disk",
        [...O, "-t", "xfs", "UUID=22222222-3333-4444-5555-666666666666", "/mnt/usb1"],
        "",
        /not on a USB-attached disk/,
      ],
      ["a UUID no disk has", [...O, "UUID=5555-6666", "/mnt/usb1"], "", /no filesystem with UUID/],
      [
        "a filesystem type outside the list, even on USB",
        [...O, "UUID=33333333-4444-5555-6666-777777777777", "/mnt/usb1"],
        "",
        /squashfs/,
      ],
      [
        "a USB partition without a filesystem",
        [...O, "UUID=44444444-5555-6666-7777-888888888888", "/mnt/usb1"],
        "",
        /filesystem; allowed/,
      ],
      [
        "a type that is not the one on the disk",
        [...O, "-t", "vfat", "UUID=0a1b2c3d-1111-2222-3333-444455556666", "/mnt/usb1"],
        "",
        /holds ext4, not vfat/,
      ],
    ])("mount refuses %s", async (_what, args, setup, message) => {
      const r = await callInNs("mount", args, setup);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(64);
      expect(r.calls).toEqual([]);
    });

    const U = "UUID=0a1b2c3d-1111-2222-3333-444455556666";
    test.each([
      ["other options", ["-o", "rw", U, "/mnt/usb1"], ""],
      ["a bind mount", ["-o", "nosuid,nodev,noexec", "--bind", "/", "/mnt/usb1"], ""],
      ["a device path", ["-o", "nosuid,nodev,noexec", "/dev/sda1", "/mnt/usb1"], ""],
      ["an unlisted filesystem", ["-o", "nosuid,nodev,noexec", "-t", "nfs", U, "/mnt/usb1"], ""],
      ["a target outside /mnt", ["-o", "nosuid,nodev,noexec", U, "/etc"], ""],
      ["a target that does not exist", ["-o", "nosuid,nodev,noexec", U, "/mnt/nothere"], ""],
      [
        "a target that is already a mount point",
        ["-o", "nosuid,nodev,noexec", U, "/mnt/usb1"],
        "mount -t tmpfs -o mode=0755 tmpfs /mnt/usb1",
      ],
      [
        "a symbolic link target",
        ["-o", "nosuid,nodev,noexec", U, "/mnt/etc"],
        "ln -s /etc /mnt/etc",
      ],
    ])("mount refuses %s", async (_what, args, setup) => {
      const r = await callInNs("mount", args, setup);
      expect(r.code).toBe(64);
      expect(r.calls).toEqual([]);
    });
  },
);

describe.skipIf(noVisudo || !canNamespace)(
  "the agent's privileged module through the wrappers",
  () => {
    // Each command runs in its own private namespace with /mnt prepared, like the host would
    // have it; the paths are the wrappers, exactly as a sudo-mode agent would be configured.
    const inner = createSpawnRunner({ mode: "direct", defaultTimeoutMs: 20_000 });
    const runner: Runner = {
      run: (cmd, args, opts) =>
        inner.run(
          unshare as string,
          [
            "-m",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            `${NS_SETUP} && exec "$@"`,
            "sh",
            cmd,
            ...args,
          ],
          opts,
        ),
    };

    test("every argv the privileged module builds is accepted as is", async () => {
      const priv = createPrivileged({
        runner,
        paths: {
          pct: wrapper.pct as string,
          findmnt: wrapper.findmnt as string,
          mkdir: wrapper.mkdir as string,
          mount: wrapper.mount as string,
          tee: wrapper.tee as string,
          smartctl: wrapper.smartctl as string,
          fstab,
        },
      });
      await priv.createGoldenLXC({
        vmid: 9000,
        ostemplate: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
        storage: "local-lvm",
        rootfsGb: 8,
        cores: 2,
        memoryMb: 2048,
        swapMb: 512,
        hostname: "golden",
        net0: { bridge: "vmbr0", ip: "192.168.1.50/24", gw: "192.168.1.1" },
      });
      const mounted = await priv.mountUSBByUUID({
        uuid: "0a1b2c3d-1111-2222-3333-444455556666",
        mountpoint: "/mnt/usb1",
        fstype: "ext4",
        persist: true,
      });
      expect(mounted).toEqual({ mount: "mounted", fstab: "added" });
      const smart = await priv.smart("/dev/sdb", { type: "sat" });
      expect(smart.device).toBe("/dev/sdb");

      const names = (await calls()).map((c) => c.split(" ")[0]);
      expect(names).toEqual(["pct", "findmnt", "findmnt", "mkdir", "mount", "smartctl"]);
      expect(await readFile(fstab, "utf8")).toContain(
        "UUID=0a1b2c3d-1111-2222-3333-444455556666 /mnt/usb1 ext4 nofail,nosuid,nodev,noexec 0 0",
      );
    });
  },
);
