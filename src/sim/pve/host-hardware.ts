import type { RunResult } from "../../proxmox/runner.ts";

/**
 * The simulated host's disks and sensors: what `GET /nodes/{node}/disks/list` lists, what
 * `smartctl -a -j` and `sensors -j` print through the fake privileged runner (host-fs.ts).
 * Output shapes follow docs/proxmox-behaviour.md#disk-inventory and
 * docs/proxmox-behaviour.md#smartctl-and-sensors-json. Faults at run time: `failDisk`,
 * `addMediaErrors`, `setTemperature`, `unplugDisk`.
 */
export interface SimDisk {
  devpath: string;
  kind: "nvme" | "ssd" | "usb";
  model: string;
  serial: string;
  sizeBytes: number;
  /** SMART overall verdict. */
  passed: boolean;
  /** ATA: Reallocated_Sector_Ct raw; NVMe: media_errors. */
  errors: number;
  /** NVMe percentage_used, SSD wear in percent used. */
  wearPct: number;
  temperatureC: number;
  /** The USB bridge passes ATA commands through (`-d sat` works). */
  passThrough: boolean;
}

export interface SimTemperature {
  chip: string;
  adapter: string;
  feature: string;
  input: number;
  max?: number;
  crit?: number;
}

export function defaultSimDisks(): SimDisk[] {
  return [
    {
      devpath: "/dev/nvme0n1",
      kind: "nvme",
      model: "Samsung SSD 980 PRO 1TB",
      serial: "S5GXNX0T123456A",
      sizeBytes: 1_000_204_886_016,
      passed: true,
      errors: 0,
      wearPct: 3,
      temperatureC: 38,
      passThrough: true,
    },
    {
      devpath: "/dev/sda",
      kind: "ssd",
      model: "Samsung SSD 870 EVO 1TB",
      serial: "S6PTNX0T123456K",
      sizeBytes: 1_000_204_886_016,
      passed: true,
      errors: 0,
      wearPct: 2,
      temperatureC: 34,
      passThrough: true,
    },
  ];
}

export function defaultSimTemperatures(): SimTemperature[] {
  return [
    {
      chip: "coretemp-isa-0000",
      adapter: "ISA adapter",
      feature: "Package id 0",
      input: 45,
      max: 80,
      crit: 100,
    },
    {
      chip: "nvme-pci-0100",
      adapter: "PCI adapter",
      feature: "Composite",
      input: 38.85,
      max: 81.85,
      crit: 84.85,
    },
  ];
}

export class SimHardware {
  readonly disks: SimDisk[];
  readonly temperatures: SimTemperature[];

  constructor(disks = defaultSimDisks(), temperatures = defaultSimTemperatures()) {
    this.disks = disks;
    this.temperatures = temperatures;
  }

  disk(devpath: string): SimDisk | undefined {
    return this.disks.find((d) => d.devpath === devpath);
  }

  private mustDisk(devpath: string): SimDisk {
    const d = this.disk(devpath);
    if (!d) throw new Error(`no simulated disk ${devpath}`);
    return d;
  }

  /** The disk starts to fail: SMART says FAILED and errors appear. */
  failDisk(devpath: string, errors = 8): void {
    const d = this.mustDisk(devpath);
    d.passed = false;
    d.errors += errors;
  }

  addMediaErrors(devpath: string, n: number): void {
    this.mustDisk(devpath).errors += n;
  }

  setTemperature(feature: string, celsius: number): void {
    const t = this.temperatures.find((x) => x.feature === feature);
    if (!t) throw new Error(`no simulated sensor ${feature}`);
    t.input = celsius;
  }

  unplugDisk(devpath: string): void {
    const i = this.disks.findIndex((d) => d.devpath === devpath);
    if (i >= 0) this.disks.splice(i, 1);
  }

  /** One `disks/list` item (skipsmart: health UNKNOWN). */
  listEntry(d: SimDisk): Record<string, unknown> {
    return {
      devpath: d.devpath,
      type: d.kind,
      health: "UNKNOWN",
      wearout: d.kind === "usb" ? "N/A" : 100 - d.wearPct,
      model: d.model,
      serial: d.serial,
      vendor: d.kind === "nvme" ? "unknown" : "ATA     ",
      wwn: "unknown",
      size: d.sizeBytes,
      rpm: 0,
      gpt: 1,
      osdid: -1,
      // PVE sends `"osdid-list": null` and leaves `mounted` out unless the device node itself
      // is mounted; its declared schema has both as required, and the simulator answers to the
      // schema here. The agent reads neither.
      "osdid-list": [],
      mounted: 0,
    };
  }

  /** `smartctl -a -j [-d TYPE] DEV` as the fake runner answers it. */
  smartctl(args: readonly string[]): RunResult {
    const devpath = args.at(-1) ?? "";
    const dIdx = args.indexOf("-d");
    const type = dIdx >= 0 ? args[dIdx + 1] : undefined;
    const d = this.disk(devpath);
    const header = (exit: number, messages?: string[]) => ({
      json_format_version: [1, 0],
      smartctl: {
        version: [7, 4],
        argv: ["smartctl", ...args],
        ...(messages ? { messages: messages.map((s) => ({ string: s, severity: "error" })) } : {}),
        exit_status: exit,
      },
    });
    if (!d) {
      return result(2, header(2, [`Smartctl open device: ${devpath} failed: No such device`]));
    }
    if (d.kind === "usb" && type !== "sat") {
      return result(1, header(1, [`${devpath}: Unable to detect device type`]));
    }
    if (d.kind === "usb" && !d.passThrough) {
      return result(2, header(2, [`Smartctl open device: ${devpath} [SAT] failed: not supported`]));
    }
    // Bit 3 (8): DISK FAILING; bit 6 (64): the error log has records.
    const exit = (d.passed ? 0 : 8) | (d.errors > 0 ? 64 : 0);
    const base = {
      ...header(exit),
      model_name: d.model,
      serial_number: d.serial,
      temperature: { current: d.temperatureC },
      power_on_time: { hours: 12345 },
    };
    if (d.kind === "nvme") {
      return result(exit, {
        ...base,
        device: { name: devpath, info_name: devpath, type: "nvme", protocol: "NVMe" },
        smart_status: { passed: d.passed, nvme: { value: d.passed ? 0 : 4 } },
        nvme_smart_health_information_log: {
          critical_warning: d.passed ? 0 : 4,
          temperature: d.temperatureC,
          available_spare: 100,
          available_spare_threshold: 10,
          percentage_used: d.wearPct,
          media_errors: d.errors,
          num_err_log_entries: d.errors,
        },
      });
    }
    const attr = (id: number, name: string, value: number, thresh: number, raw: number) => ({
      id,
      name,
      value,
      worst: value,
      thresh,
      when_failed: value <= thresh && thresh > 0 ? "now" : "",
      flags: { value: 51, string: "PO--CK ", prefailure: id === 5 },
      raw: { value: raw, string: String(raw) },
    });
    return result(exit, {
      ...base,
      device: { name: devpath, info_name: `${devpath} [SAT]`, type: "sat", protocol: "ATA" },
      smart_status: { passed: d.passed },
      ata_smart_attributes: {
        revision: 1,
        table: [
          attr(5, "Reallocated_Sector_Ct", d.passed ? 100 : 5, 10, d.errors),
          attr(9, "Power_On_Hours", 97, 0, 12345),
          attr(177, "Wear_Leveling_Count", 100 - d.wearPct, 0, 21),
        ],
      },
    });
  }

  /** `sensors -j`: exit 1 with `{}` when there are none (lm-sensors prints that). */
  sensors(): RunResult {
    const out: Record<string, Record<string, unknown>> = {};
    for (const t of this.temperatures) {
      const chip = out[t.chip] ?? { Adapter: t.adapter };
      const n = Object.keys(chip).length;
      chip[t.feature] = {
        [`temp${n}_input`]: t.input,
        ...(t.max !== undefined ? { [`temp${n}_max`]: t.max } : {}),
        ...(t.crit !== undefined ? { [`temp${n}_crit`]: t.crit } : {}),
      };
      out[t.chip] = chip;
    }
    return result(this.temperatures.length === 0 ? 1 : 0, out);
  }
}

function result(code: number, body: unknown): RunResult {
  return {
    code,
    signal: null,
    stdout: `${JSON.stringify(body)}\n`,
    stderr: "",
    timedOut: false,
    truncated: false,
  };
}
