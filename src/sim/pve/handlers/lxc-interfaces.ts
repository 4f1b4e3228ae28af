import type { RequestContext } from "../context.ts";
import { parsePropertyString } from "../ct-config.ts";
import type { CtGuest } from "../state.ts";

/**
 * GET /nodes/{node}/lxc/{vmid}/interfaces: the addresses inside the CT's network namespace,
 * `lo` first, then each `netN` (docs/proxmox-behaviour.md#lxc-interfaces). A stopped or
 * missing CT answers `null`, not an error: PVE swallows the failed PID lookup.
 *
 * The simulated guest holds the static `ip=`/`ip6=` of its `netN`; with `dhcp` (or none) it
 * gets a lease derived from the vmid in 10.0.0.0/8, stable across restarts.
 */
export function interfaces(ctx: RequestContext): unknown {
  const vmid = Number(ctx.params.vmid);
  const g = ctx.core.state.guests.get(vmid);
  if (g === undefined || !g.running) return null;
  return [loopback(), ...netInterfaces(g)];
}

interface Address {
  "ip-address-type": "inet" | "inet6";
  "ip-address": string;
  prefix: number;
}

function iface(name: string, mac: string, addrs: Address[]): Record<string, unknown> {
  const last = (type: Address["ip-address-type"]) => {
    const a = addrs.filter((x) => x["ip-address-type"] === type).at(-1);
    return a ? `${a["ip-address"]}/${a.prefix}` : undefined;
  };
  const out: Record<string, unknown> = { name, hwaddr: mac, "hardware-address": mac };
  const inet = last("inet");
  const inet6 = last("inet6");
  if (inet) out.inet = inet;
  if (inet6) out.inet6 = inet6;
  out["ip-addresses"] = addrs;
  return out;
}

function loopback(): Record<string, unknown> {
  return iface("lo", "00:00:00:00:00:00", [
    { "ip-address-type": "inet", "ip-address": "127.0.0.1", prefix: 8 },
    { "ip-address-type": "inet6", "ip-address": "::1", prefix: 128 },
  ]);
}

function netInterfaces(g: CtGuest): Record<string, unknown>[] {
  const keys = Object.keys(g.config)
    .filter((k) => /^net\d+$/.test(k))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  return keys.map((key) => {
    const p = parsePropertyString(String(g.config[key]));
    const mac = (p.get("hwaddr") ?? "00:00:00:00:00:00").toLowerCase();
    const addrs: Address[] = [];
    const ip = p.get("ip");
    const m = ip === undefined ? null : /^([0-9.]+)\/(\d+)$/.exec(ip);
    if (m)
      addrs.push({ "ip-address-type": "inet", "ip-address": m[1] as string, prefix: Number(m[2]) });
    else if (ip !== "manual") {
      const n = g.vmid + Number(key.slice(3)) * 65_536;
      const lease = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      addrs.push({ "ip-address-type": "inet", "ip-address": lease, prefix: 8 });
    }
    const ip6 = p.get("ip6");
    const m6 = ip6 === undefined ? null : /^([0-9a-fA-F:]+)\/(\d+)$/.exec(ip6);
    if (m6)
      addrs.push({
        "ip-address-type": "inet6",
        "ip-address": m6[1] as string,
        prefix: Number(m6[2]),
      });
    return iface(p.get("name") ?? `eth${key.slice(3)}`, mac, addrs);
  });
}
