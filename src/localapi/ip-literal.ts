/**
 * IP literals read the way the host's resolver reads them, so a bind address is judged by the
 * address the socket would get, not by its spelling. IPv4 follows inet_aton: one to four parts,
 * each decimal, octal (leading 0) or hex (0x), the last part filling the remaining bytes
 * (`0`, `0x0`, `00.0.0`, `127.1` are all valid). IPv6 follows RFC 4291 with `::` compression, a
 * trailing dotted quad, optional brackets and an optional zone (`%eth0`).
 */
export type IpLiteral =
  | { readonly family: 4; readonly bytes: readonly number[] }
  | { readonly family: 6; readonly bytes: readonly number[]; readonly zone?: string };

const MAX_PART = [0xffffffff, 0xffffff, 0xffff, 0xff];

function atonPart(text: string): number | undefined {
  let digits = text;
  let radix = 10;
  if (/^0[xX]/.test(text)) {
    digits = text.slice(2);
    radix = 16;
    if (!/^[0-9A-Fa-f]+$/.test(digits)) return undefined;
  } else if (text.length > 1 && text.startsWith("0")) {
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return undefined;
  } else if (!/^[0-9]+$/.test(digits)) {
    return undefined;
  }
  // Long runs of leading zeros are still one small number; parse without losing precision.
  const value = Number.parseInt(digits.replace(/^0+(?=.)/, ""), radix);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** inet_aton's reading of `text`, or undefined when it is not an IPv4 number form. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    const v = atonPart(p);
    if (v === undefined) return undefined;
    values.push(v);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 0xff)) return undefined;
  if (last > (MAX_PART[values.length] as number)) return undefined;
  const bytes = [...values];
  const tailBytes = 4 - values.length;
  for (let i = tailBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return bytes;
}

function strictDottedQuad(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out.push(v);
  }
  return out;
}

/** RFC 4291 text form (without brackets or zone) to 16 bytes. */
export function parseIPv6(text: string): number[] | undefined {
  if (text === "" || /[^0-9A-Fa-f:.]/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const pieces = s.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const quad = strictDottedQuad(piece);
        if (!quad) return undefined;
        out.push(((quad[0] as number) << 8) | (quad[1] as number));
        out.push(((quad[2] as number) << 8) | (quad[3] as number));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return undefined;
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  if (!head) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    // The dotted quad may only end the address, so it cannot sit before "::".
    if ((halves[0] as string).includes(".")) return undefined;
    const tail = groupsOf(halves[1] as string);
    if (!tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** An IPv4 (inet_aton forms) or IPv6 literal (bracketed or not, with zone), else undefined. */
export function parseIpLiteral(text: string): IpLiteral | undefined {
  let t = text;
  const bracketed = t.startsWith("[") && t.endsWith("]");
  if (bracketed) t = t.slice(1, -1);
  if (!bracketed) {
    const v4 = parseIPv4(t);
    if (v4) return { family: 4, bytes: v4 };
  }
  if (!t.includes(":")) return undefined;
  const pct = t.indexOf("%");
  const zone = pct >= 0 ? t.slice(pct + 1) : undefined;
  if (zone !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(zone)) return undefined;
  const v6 = parseIPv6(pct >= 0 ? t.slice(0, pct) : t);
  if (!v6) return undefined;
  return zone === undefined ? { family: 6, bytes: v6 } : { family: 6, bytes: v6, zone };
}

/**
 * The unspecified address: binding it listens on every interface. For IPv6 that includes the
 * IPv4-mapped form of 0.0.0.0 (::ffff:0.0.0.0), which Linux binds as IPv4's INADDR_ANY.
 */
export function isUnspecified(ip: IpLiteral): boolean {
  if (ip.family === 4) return ip.bytes.every((b) => b === 0);
  const mapped =
    ip.bytes.slice(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
  const rest = mapped ? ip.bytes.slice(12) : ip.bytes;
  return rest.every((b) => b === 0);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIpLiteral(ip: IpLiteral): string {
  if (ip.family === 4) return ip.bytes.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { start: i, len: j - i };
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  const text =
    best.start < 0
      ? hex(groups)
      : `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.len))}`;
  return ip.zone === undefined ? text : `${text}%${ip.zone}`;
}
