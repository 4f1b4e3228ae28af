import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  createPrivileged,
  MountConflictError,
  PrivilegedArgumentError,
  PrivilegedCommandError,
  PrivilegedOutputError,
} from "../../src/proxmox/privileged.ts";
import {
  createRecordingRunner,
  type RecordedCall,
  type ScriptedResult,
} from "../../src/proxmox/runner.ts";

const UUID = "3f2b8c1e-9a4d-4e5f-8b6a-0c1d2e3f4a5b";
const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const NOT_FOUND: ScriptedResult = { code: 1, stdout: "" };

function fstabJson(entries: { source: string; target: string }[]) {
  return JSON.stringify({
    filesystems: entries.map((e) => ({ ...e, fstype: "ext4", options: "defaults" })),
  });
}

describe("createGoldenLXC", () => {
  test("exact argv: keyctl and nesting, unprivileged, rootfs", async () => {
    const runner = createRecordingRunner([{}]);
    await createPrivileged({ runner }).createGoldenLXC({
      vmid: 9000,
      ostemplate: TEMPLATE,
      storage: "local-lvm",
      rootfsGb: 8,
    });
    expect(runner.calls).toEqual([
      {
        cmd: "/usr/sbin/pct",
        args: [
          "create",
          "9000",
          TEMPLATE,
          "--unprivileged",
          "1",
          "--features",
          "nesting=1,keyctl=1",
          "--rootfs",
          "local-lvm:8",
        ],
        opts: { timeoutMs: 900_000 },
      },
    ]);
  });

  test("exact argv with every option", async () => {
    const runner = createRecordingRunner([{}]);
    await createPrivileged({ runner }).createGoldenLXC({
      vmid: 9001,
      ostemplate: TEMPLATE,
      storage: "local-lvm",
      rootfsGb: 8,
      cores: 2,
      memoryMb: 2048,
      swapMb: 512,
      hostname: "golden.felhom.local",
      net0: { bridge: "vmbr0", ip: "192.0.2.50/24", gw: "192.0.2.1" },
    });
    expect(runner.calls[0]?.args.slice(9)).toEqual([
      "--cores",
      "2",
      "--memory",
      "2048",
      "--swap",
      "512",
      "--hostname",
      "golden.felhom.local",
      "--net0",
      "name=eth0,bridge=vmbr0,ip=192.0.2.50/24,gw=192.0.2.1",
    ]);
  });

  const base = { vmid: 9000, ostemplate: TEMPLATE, storage: "local-lvm", rootfsGb: 8 };
  for (const [label, bad, field] of [
    ["vmid below 100", { vmid: 99 }, "golden.vmid"],
    ["fractional vmid", { vmid: 100.5 }, "golden.vmid"],
    ["NaN vmid", { vmid: Number.NaN }, "golden.vmid"],
    ["vmid as string", { vmid: "100" }, "golden.vmid"],
    ["template as option", { ostemplate: "--features=keyctl=0" }, "golden.ostemplate"],
    ["iso template", { ostemplate: "local:iso/x.iso" }, "golden.ostemplate"],
    ["template path escape", { ostemplate: "local:vztmpl/../x.tar.gz" }, "golden.ostemplate"],
    ["storage option", { storage: "-x" }, "golden.storage"],
    ["hostname option", { hostname: "--memory" }, "golden.hostname"],
    [
      "net0 property injection",
      { net0: { bridge: "vmbr0", ip: "dhcp,firewall=0" } },
      "golden.net0.ip",
    ],
    ["bridge injection", { net0: { bridge: "vmbr0,tag=5", ip: "dhcp" } }, "golden.net0.bridge"],
    ["unknown option", { password: "x" }, "golden"],
  ] as const) {
    test(`refuses ${label} before running anything`, async () => {
      const runner = createRecordingRunner([]);
      const p = createPrivileged({ runner }).createGoldenLXC({ ...base, ...bad } as never);
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PrivilegedArgumentError);
      expect((err as PrivilegedArgumentError).field).toBe(field);
      expect(runner.calls).toEqual([]);
    });
  }

  test("a failing pct is a PrivilegedCommandError with the stderr reason", async () => {
    const runner = createRecordingRunner([
      { code: 255, stderr: "noise\nCT 9000 already exists on node 'pve1'\n" },
    ]);
    const err = await createPrivileged({ runner })
      .createGoldenLXC(base)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrivilegedCommandError);
    expect((err as Error).message).toBe(
      "/usr/sbin/pct exited 255: CT 9000 already exists on node 'pve1'",
    );
    expect((err as PrivilegedCommandError).code).toBe(255);
  });
});

describe("mountUSBByUUID", () => {
  test("fresh disk with persist: reads, mkdir, mount, one appended fstab line", async () => {
    const runner = createRecordingRunner([
      { stdout: fstabJson([{ source: "UUID=aaaa-bbbb", target: "/boot/efi" }]) },
      NOT_FOUND,
      {},
      {},
      {},
    ]);
    const r = await createPrivileged({ runner }).mountUSBByUUID({
      uuid: UUID,
      mountpoint: "/mnt/felhom-usb1",
      fstype: "ext4",
      persist: true,
    });
    expect(r).toEqual({ mount: "mounted", fstab: "added" });
    expect(runner.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      ["/usr/bin/findmnt", "--fstab", "--json", "--output", "SOURCE,TARGET,FSTYPE,OPTIONS"],
      [
        "/usr/bin/findmnt",
        "--json",
        "--output",
        "SOURCE,TARGET,FSTYPE,UUID",
        "--mountpoint",
        "/mnt/felhom-usb1",
      ],
      ["/usr/bin/mkdir", "-p", "/mnt/felhom-usb1"],
      [
        "/usr/bin/mount",
        "-o",
        "nosuid,nodev,noexec",
        "-t",
        "ext4",
        `UUID=${UUID}`,
        "/mnt/felhom-usb1",
      ],
      ["/usr/bin/tee", "-a", "/etc/fstab"],
    ]);
    expect(runner.calls[4]?.opts?.stdin).toBe(
      `\n# felhom-agent: USB storage\nUUID=${UUID} /mnt/felhom-usb1 ext4 nofail,nosuid,nodev,noexec 0 0\n`,
    );
  });

  test("without persist and fstype: no fstab read or write, no -t", async () => {
    const runner = createRecordingRunner([NOT_FOUND, {}, {}]);
    const r = await createPrivileged({ runner }).mountUSBByUUID({
      uuid: "ABCD-1234",
      mountpoint: "/media/usb",
      persist: false,
    });
    expect(r).toEqual({ mount: "mounted", fstab: "not_requested" });
    expect(runner.calls[2]?.args).toEqual([
      "-o",
      "nosuid,nodev,noexec",
      "UUID=ABCD-1234",
      "/media/usb",
    ]);
  });

  test("idempotent: already mounted and already in fstab changes nothing", async () => {
    const runner = createRecordingRunner([
      { stdout: fstabJson([{ source: `UUID=${UUID.toUpperCase()}`, target: "/mnt/usb" }]) },
      {
        stdout: JSON.stringify({
          filesystems: [{ source: "/dev/sdb1", target: "/mnt/usb", fstype: "ext4", uuid: UUID }],
        }),
      },
    ]);
    const r = await createPrivileged({ runner }).mountUSBByUUID({
      uuid: UUID,
      mountpoint: "/mnt/usb",
      persist: true,
    });
    expect(r).toEqual({ mount: "already_mounted", fstab: "present" });
    expect(runner.calls).toHaveLength(2);
  });

  test("another filesystem on the mountpoint is a conflict; nothing is changed", async () => {
    const runner = createRecordingRunner([
      NOT_FOUND,
      {
        stdout: JSON.stringify({
          filesystems: [
            { source: "/dev/sdc1", target: "/mnt/usb", fstype: "xfs", uuid: "1111-2222" },
          ],
        }),
      },
    ]);
    const err = await createPrivileged({ runner })
      .mountUSBByUUID({ uuid: UUID, mountpoint: "/mnt/usb", persist: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MountConflictError);
    expect((err as MountConflictError).where).toBe("mounted");
    expect(runner.calls.map((c) => c.cmd)).toEqual(["/usr/bin/findmnt", "/usr/bin/findmnt"]);
  });

  test("an fstab entry for the mountpoint with another source is a conflict", async () => {
    const runner = createRecordingRunner([
      { stdout: fstabJson([{ source: "UUID=1111-2222", target: "/mnt/usb" }]) },
    ]);
    const err = await createPrivileged({ runner })
      .mountUSBByUUID({ uuid: UUID, mountpoint: "/mnt/usb", persist: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MountConflictError);
    expect((err as MountConflictError).where).toBe("fstab");
    expect(runner.calls).toHaveLength(1);
  });

  test("the same UUID listed for another mountpoint is a conflict", async () => {
    const runner = createRecordingRunner([
      { stdout: fstabJson([{ source: `UUID=${UUID}`, target: "/mnt/other" }]) },
    ]);
    await expect(
      createPrivileged({ runner }).mountUSBByUUID({
        uuid: UUID,
        mountpoint: "/mnt/usb",
        persist: true,
      }),
    ).rejects.toBeInstanceOf(MountConflictError);
  });

  for (const mountpoint of [
    "/etc",
    "/mnt",
    "/mnt/",
    "/mnt/../etc",
    "/mnt/a b",
    "mnt/usb",
    "/mnt/-o",
    "/mnt//x",
    "/mntx/usb",
    "/mnt/usb\nUUID=x / ext4",
  ]) {
    test(`refuses mountpoint ${JSON.stringify(mountpoint)}`, async () => {
      const runner = createRecordingRunner([]);
      await expect(
        createPrivileged({ runner }).mountUSBByUUID({ uuid: UUID, mountpoint, persist: true }),
      ).rejects.toBeInstanceOf(PrivilegedArgumentError);
      expect(runner.calls).toEqual([]);
    });
  }

  for (const uuid of ["-o", "UUID=x", `${UUID} /etc`, "zzzz-zzzz", ""]) {
    test(`refuses uuid ${JSON.stringify(uuid)}`, async () => {
      const runner = createRecordingRunner([]);
      await expect(
        createPrivileged({ runner }).mountUSBByUUID({
          uuid,
          mountpoint: "/mnt/usb",
          persist: false,
        }),
      ).rejects.toBeInstanceOf(PrivilegedArgumentError);
    });
  }

  test("refuses an unknown fstype", async () => {
    const runner = createRecordingRunner([]);
    await expect(
      createPrivileged({ runner }).mountUSBByUUID({
        uuid: UUID,
        mountpoint: "/mnt/usb",
        fstype: "nfs" as never,
        persist: false,
      }),
    ).rejects.toBeInstanceOf(PrivilegedArgumentError);
  });

  test("a failing mount writes no fstab entry", async () => {
    const runner = createRecordingRunner([
      NOT_FOUND,
      NOT_FOUND,
      {},
      { code: 32, stderr: "mount: can't find UUID" },
    ]);
    await expect(
      createPrivileged({ runner }).mountUSBByUUID({
        uuid: UUID,
        mountpoint: "/mnt/usb",
        persist: true,
      }),
    ).rejects.toBeInstanceOf(PrivilegedCommandError);
    expect(runner.calls.map((c) => c.cmd)).not.toContain("/usr/bin/tee");
  });
});

const smartOk = {
  json_format_version: [1, 0],
  smartctl: { version: [7, 4], exit_status: 0 },
  device: { name: "/dev/sda", info_name: "/dev/sda [SAT]", type: "sat", protocol: "ATA" },
  model_name: "Samsung SSD 870 EVO 1TB",
  serial_number: "S6PUNX0T123456",
  smart_status: { passed: true },
  temperature: { current: 31 },
  power_on_time: { hours: 12034 },
  ata_smart_attributes: {
    revision: 1,
    table: [
      {
        id: 5,
        name: "Reallocated_Sector_Ct",
        value: 100,
        worst: 100,
        thresh: 10,
        when_failed: "",
        raw: { value: 0, string: "0" },
      },
      {
        id: 9,
        name: "Power_On_Hours",
        value: 97,
        worst: 97,
        thresh: 0,
        raw: { value: 12034, string: "12034" },
      },
    ],
  },
};

describe("smart", () => {
  test("exact argv and parsed report", async () => {
    const runner = createRecordingRunner([{ stdout: JSON.stringify(smartOk) }]);
    const r = await createPrivileged({ runner }).smart("/dev/sda");
    expect(runner.calls[0]).toEqual({
      cmd: "/usr/sbin/smartctl",
      args: ["-a", "-j", "/dev/sda"],
      opts: { timeoutMs: 60_000 },
    });
    expect(r).toMatchObject({
      device: "/dev/sda",
      model: "Samsung SSD 870 EVO 1TB",
      passed: true,
      temperatureC: 31,
      powerOnHours: 12034,
      exitStatus: 0,
      nvme: null,
    });
    expect(r.attributes[0]).toEqual({
      id: 5,
      name: "Reallocated_Sector_Ct",
      value: 100,
      worst: 100,
      thresh: 10,
      raw: 0,
    });
  });

  test("passes a device type for USB bridges", async () => {
    const runner = createRecordingRunner([{ stdout: JSON.stringify(smartOk) }]);
    await createPrivileged({ runner }).smart("/dev/disk/by-id/usb-JMicron_Generic_0123456789-0:0", {
      type: "sat",
    });
    expect(runner.calls[0]?.args).toEqual([
      "-a",
      "-j",
      "-d",
      "sat",
      "/dev/disk/by-id/usb-JMicron_Generic_0123456789-0:0",
    ]);
  });

  test("the exit bitmask: disk-problem bits with valid JSON are flags, not errors", async () => {
    const status = (1 << 3) | (1 << 6);
    const runner = createRecordingRunner([
      {
        code: status,
        stdout: JSON.stringify({
          ...smartOk,
          smartctl: { exit_status: status },
          smart_status: { passed: false },
        }),
      },
    ]);
    const r = await createPrivileged({ runner }).smart("/dev/sda");
    expect(r.exitStatus).toBe(status);
    expect(r.passed).toBe(false);
    expect(r.flags).toEqual({
      commandFailed: false,
      diskFailing: true,
      prefailAtOrBelowThreshold: false,
      pastAtOrBelowThreshold: false,
      errorLogHasErrors: true,
      selfTestLogHasErrors: false,
    });
  });

  test("bit 1 (device open failed) is an error carrying smartctl's message", async () => {
    const runner = createRecordingRunner([
      {
        code: 2,
        stdout: JSON.stringify({
          smartctl: {
            exit_status: 2,
            messages: [
              {
                string: "Smartctl open device: /dev/sdz failed: No such device",
                severity: "error",
              },
            ],
          },
        }),
      },
    ]);
    const err = await createPrivileged({ runner })
      .smart("/dev/sdz")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrivilegedCommandError);
    expect((err as Error).message).toContain("No such device");
  });

  test("non-zero exit without JSON (e.g. sudo refused) is a command error", async () => {
    const runner = createRecordingRunner([{ code: 1, stderr: "sudo: a password is required" }]);
    const err = await createPrivileged({ runner })
      .smart("/dev/sda")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrivilegedCommandError);
    expect((err as Error).message).toContain("sudo: a password is required");
  });

  test("JSON of the wrong shape is an output error", async () => {
    const runner = createRecordingRunner([
      { stdout: JSON.stringify({ smartctl: { exit_status: "0" } }) },
    ]);
    await expect(createPrivileged({ runner }).smart("/dev/sda")).rejects.toBeInstanceOf(
      PrivilegedOutputError,
    );
  });

  for (const device of [
    "/dev/sda1",
    "sda",
    "-a",
    "/dev/../etc/passwd",
    "/dev/sda --all",
    "/dev/disk/by-id/-x",
    "/dev/mapper/x",
  ]) {
    test(`refuses device ${JSON.stringify(device)}`, async () => {
      const runner = createRecordingRunner([]);
      await expect(createPrivileged({ runner }).smart(device)).rejects.toBeInstanceOf(
        PrivilegedArgumentError,
      );
      expect(runner.calls).toEqual([]);
    });
  }

  test("refuses an unknown device type", async () => {
    const runner = createRecordingRunner([]);
    await expect(
      createPrivileged({ runner }).smart("/dev/sda", { type: "megaraid,0" as never }),
    ).rejects.toBeInstanceOf(PrivilegedArgumentError);
  });
});

const sensorsOut = {
  "coretemp-isa-0000": {
    Adapter: "ISA adapter",
    "Package id 0": {
      temp1_input: 45.0,
      temp1_max: 80.0,
      temp1_crit: 100.0,
      temp1_crit_alarm: 0.0,
    },
    "Core 0": { temp2_input: 43.0 },
  },
  "nct6798-isa-0290": { Adapter: "ISA adapter", fan1: { fan1_input: 812.0, fan1_min: 0.0 } },
};

describe("sensors", () => {
  test("exact argv and parsed report", async () => {
    const runner = createRecordingRunner([{ stdout: JSON.stringify(sensorsOut) }]);
    const r = await createPrivileged({ runner }).sensors();
    expect(runner.calls[0]).toEqual({
      cmd: "/usr/bin/sensors",
      args: ["-j"],
      opts: { timeoutMs: 15_000 },
    });
    expect(r.temperatures).toEqual([
      { chip: "coretemp-isa-0000", feature: "Package id 0", celsius: 45, max: 80, crit: 100 },
      { chip: "coretemp-isa-0000", feature: "Core 0", celsius: 43 },
    ]);
    expect(r.chips[1]).toEqual({
      name: "nct6798-isa-0290",
      adapter: "ISA adapter",
      features: [{ name: "fan1", values: { fan1_input: 812, fan1_min: 0 } }],
    });
  });

  test("a non-zero exit with valid JSON is tolerated", async () => {
    const runner = createRecordingRunner([{ code: 1, stdout: "{}", stderr: "No sensors found!" }]);
    expect(await createPrivileged({ runner }).sensors()).toEqual({ chips: [], temperatures: [] });
  });

  test("no JSON and a failure exit is a command error", async () => {
    const runner = createRecordingRunner([{ code: 127, stderr: "sensors: not found" }]);
    await expect(createPrivileged({ runner }).sensors()).rejects.toBeInstanceOf(
      PrivilegedCommandError,
    );
  });
});

describe("no option injection (property)", () => {
  const OUR_FLAGS = new Set([
    "--unprivileged",
    "--features",
    "--rootfs",
    "--cores",
    "--memory",
    "--swap",
    "--hostname",
    "--net0",
    "-p",
    "-o",
    "-t",
    "-a",
    "-j",
    "-d",
    "--fstab",
    "--json",
    "--output",
    "--mountpoint",
  ]);
  const answer = (c: RecordedCall): ScriptedResult =>
    c.cmd.endsWith("findmnt")
      ? NOT_FOUND
      : c.cmd.endsWith("smartctl")
        ? { stdout: JSON.stringify(smartOk) }
        : {};

  const checkCalls = (calls: RecordedCall[], fuzz: readonly string[]) => {
    for (const c of calls) {
      expect(c.cmd.startsWith("/")).toBe(true);
      for (const a of c.args) {
        if (a.startsWith("-")) {
          expect(OUR_FLAGS.has(a)).toBe(true);
          // Every call names each of its own flags once, so a fuzzed value that is one of
          // them (the generator makes "-o" and "--features") and reached argv as an option
          // shows as a second copy; the same text in another call's own flag is no injection.
          if (fuzz.includes(a)) expect(c.args.filter((x) => x === a)).toHaveLength(1);
        }
      }
      const stdin = c.opts?.stdin;
      if (stdin !== undefined) {
        const entries = stdin.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
        expect(entries).toHaveLength(1);
        expect(entries[0]?.split(" ")).toHaveLength(6);
      }
    }
  };

  const anyString = fc.oneof(
    fc.string(),
    fc.string().map((s) => `-${s}`),
    fc.string().map((s) => `--${s}`),
    fc.constantFrom(
      "--features",
      "-o",
      "dhcp",
      "vmbr0",
      UUID,
      "/mnt/x",
      "/dev/sda",
      "local-lvm",
      TEMPLATE,
    ),
  );

  test("golden create", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          vmid: fc.oneof(fc.integer(), fc.double()),
          ostemplate: anyString,
          storage: anyString,
          hostname: anyString,
          bridge: anyString,
          ip: anyString,
        }),
        async (f) => {
          const runner = createRecordingRunner(answer);
          await createPrivileged({ runner })
            .createGoldenLXC({
              vmid: f.vmid,
              ostemplate: f.ostemplate,
              storage: f.storage,
              rootfsGb: 4,
              hostname: f.hostname,
              net0: { bridge: f.bridge, ip: f.ip },
            })
            .catch((e: unknown) => expect(e).toBeInstanceOf(PrivilegedArgumentError));
          checkCalls(runner.calls, [f.ostemplate, f.storage, f.hostname, f.bridge, f.ip]);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("mount and smart", async () => {
    await fc.assert(
      fc.asyncProperty(
        anyString,
        anyString,
        anyString,
        fc.boolean(),
        async (uuid, mountpoint, device, persist) => {
          const runner = createRecordingRunner(answer);
          const priv = createPrivileged({ runner });
          await priv
            .mountUSBByUUID({ uuid, mountpoint, persist })
            .catch((e: unknown) => expect(e).toBeInstanceOf(PrivilegedArgumentError));
          await priv
            .smart(device)
            .catch((e: unknown) => expect(e).toBeInstanceOf(PrivilegedArgumentError));
          checkCalls(runner.calls, [uuid, mountpoint, device]);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("the property's generator does reach the runner (the check is not vacuous)", async () => {
    const runner = createRecordingRunner(answer);
    const priv = createPrivileged({ runner });
    await priv.mountUSBByUUID({ uuid: UUID, mountpoint: "/mnt/x", persist: true });
    await priv.smart("/dev/sda");
    checkCalls(runner.calls, []);
    expect(runner.calls.length).toBe(6);
  });
});
