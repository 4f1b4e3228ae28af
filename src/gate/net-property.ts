/**
 * An LXC `netN` property string (`name=eth0,bridge=vmbr0,ip=dhcp`), judged for an unsigned
 * new guest. Keys outside this list are not judged benign: `hwaddr` would copy a MAC address
 * (another guest's identity on the LAN), and `tag`/`trunks` choose VLANs, which reach other
 * networks on the same bridge (docs/proxmox-behaviour.md#lxc-network-property).
 */
const BENIGN_NET_KEYS = new Set([
  "name",
  "bridge",
  "firewall",
  "ip",
  "gw",
  "ip6",
  "gw6",
  "mtu",
  "rate",
  "type",
  "link_down",
]);

export interface NetProblem {
  kind: "mac_given" | "bridge" | "unknown_key" | "malformed";
  detail: string;
}

/** Why `value` is not benign for a new guest, or undefined when it is. */
export function netProblem(value: string, bridges: readonly string[]): NetProblem | undefined {
  const seen = new Set<string>();
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return { kind: "malformed", detail: "not a key=value network property" };
    const key = part.slice(0, eq);
    const val = part.slice(eq + 1);
    if (seen.has(key)) return { kind: "malformed", detail: `'${key}' given twice` };
    seen.add(key);
    if (key === "hwaddr") return { kind: "mac_given", detail: "a MAC address is given" };
    if (!BENIGN_NET_KEYS.has(key)) {
      return { kind: "unknown_key", detail: `network key '${key}' is not judged benign` };
    }
    if (key === "bridge" && !bridges.includes(val)) {
      return {
        kind: "bridge",
        detail: `bridge '${val}' is not one a new guest joins unsigned (gate.provision_bridges)`,
      };
    }
  }
  return undefined;
}
