import { readFile, realpath } from "node:fs/promises";

/**
 * Whether a USB filesystem is attached and mounted where the agent put it, read from the
 * kernel's own tables without a process or root: `/dev/disk/by-uuid/<uuid>` exists while the
 * disk is attached (udev's link), and `/proc/self/mounts` lists what is mounted where. Neither
 * side of the fence (docs/architecture.md#fence): no network, no process.
 */
export interface MountProbe {
  usb(uuid: string, mountpoint: string): Promise<{ attached: boolean; mounted: boolean }>;
}

/** Octal escapes `/proc/self/mounts` uses for spaces and tabs in paths. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

export function createMountProbe(root = "/"): MountProbe {
  const at = (p: string) => (root === "/" ? p : `${root.replace(/\/$/, "")}${p}`);
  return {
    async usb(uuid, mountpoint) {
      const link = at(`/dev/disk/by-uuid/${uuid.toLowerCase()}`);
      const device = await realpath(link).catch(() => undefined);
      if (device === undefined) return { attached: false, mounted: false };
      const mounts = await readFile(at("/proc/self/mounts"), "utf8").catch(() => "");
      const mounted = mounts.split("\n").some((line) => {
        const [source, target] = line.split(" ");
        if (source === undefined || target === undefined) return false;
        const src = unescapeMountField(source);
        return (
          unescapeMountField(target) === mountpoint &&
          (src === device || src === link || src === `UUID=${uuid}`)
        );
      });
      return { attached: true, mounted };
    },
  };
}
