import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { COMMANDS } from "../../src/cli/commands.ts";
import { runConfigShow } from "../../src/cli/config-show.ts";
import { dispatch } from "../../src/cli/dispatch.ts";
import { formatIpLiteral, parseIpLiteral } from "../../src/localapi/ip-literal.ts";
import {
  checkListenAddress,
  checkListenName,
  isWildcardAddress,
  ListenAddressError,
} from "../../src/localapi/listen-address.ts";
import { memoryFs } from "../config/memory-fs.ts";

// Every spelling the OS reads as the unspecified address. IPv4 parts follow inet_aton (decimal,
// octal with a leading 0, hex with 0x; one to four parts); IPv6 groups may carry leading zeros,
// any run may be compressed, the last 32 bits may be a dotted quad or an IPv4-mapped 0.0.0.0.
const zeroPart = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((n) => "0".repeat(n)),
  fc
    .tuple(fc.constantFrom("0x", "0X"), fc.integer({ min: 1, max: 4 }))
    .map(([p, n]) => p + "0".repeat(n)),
);
const v4Wildcard = fc
  .array(zeroPart, { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join("."));

const zeroGroup = fc.integer({ min: 1, max: 4 }).map((n) => "0".repeat(n));
const v6Wildcard = fc
  .record({
    groups: fc.array(zeroGroup, { minLength: 8, maxLength: 8 }),
    mapped: fc.constantFrom("none", "ffff-quad", "ffff-groups", "quad"),
    compress: fc.option(fc.tuple(fc.nat(7), fc.nat(7))),
    upper: fc.boolean(),
    bracket: fc.boolean(),
    zone: fc.option(fc.constantFrom("eth0", "vmbr0", "1")),
  })
  .map(({ groups, mapped, compress, upper, bracket, zone }) => {
    let tokens: string[] = [...groups];
    if (mapped === "ffff-quad") tokens = [...groups.slice(0, 5), "ffff", "0.0.0.0"];
    if (mapped === "ffff-groups") tokens = [...groups.slice(0, 5), "FFFF", "0", "0"];
    if (mapped === "quad") tokens = [...groups.slice(0, 6), "0.0.0.0"];
    let text: string;
    if (compress) {
      // Compress a run of zero groups (never the dotted quad, which stays last).
      const limit = tokens.length - (tokens.at(-1)?.includes(".") ? 1 : 0);
      const start = Math.min(compress[0], limit - 1);
      const end = Math.max(start + 1, Math.min(limit, start + 1 + compress[1]));
      const run = tokens.slice(start, end);
      if (run.every((t) => /^0+$/.test(t))) {
        text = `${tokens.slice(0, start).join(":")}::${tokens.slice(end).join(":")}`;
      } else text = tokens.join(":");
    } else text = tokens.join(":");
    if (upper) text = text.toUpperCase();
    if (zone) text = `${text}%${zone}`;
    return bracket ? `[${text}]` : text;
  });

const spacing = fc.constantFrom("", " ", "\t");

describe("wildcard spellings", () => {
  test("every spelling of a wildcard is refused without allow_wildcard (property)", () => {
    fc.assert(
      fc.property(fc.oneof(v4Wildcard, v6Wildcard), spacing, (w, pad) => {
        const spelled = `${pad}${w}${pad}`;
        expect(isWildcardAddress(spelled)).toBe(true);
        expect(() => checkListenAddress(spelled, false)).toThrow(ListenAddressError);
        expect(checkListenAddress(spelled, true)).toMatch(/^(0\.0\.0\.0|::)$/);
      }),
      { numRuns: 2000 },
    );
  });

  test.each([
    "0",
    "0x0",
    "0.0",
    "0.0.0",
    "00.0.0.0",
    "000.000.000.000",
    "0x0.0x0.0x0.0x0",
    "::",
    "[::]",
    "[::0]",
    "::0",
    "0:0:0:0:0:0:0:0",
    "0000:0000:0000:0000:0000:0000:0000:0000",
    "::ffff:0.0.0.0",
    "::FFFF:0:0",
    "[::ffff:0.0.0.0]",
    "::0.0.0.0",
    "::%eth0",
    "*",
    "",
  ])("%j is a wildcard", (w) => {
    expect(() => checkListenAddress(w, false)).toThrow(/every interface of the host/);
  });

  test("a wildcard spelling in the config is an error naming local_api.listen (config show exits 2)", async () => {
    for (const listen of ["0", "0x0", "[::0]", "::ffff:0.0.0.0"]) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runConfigShow([], {
        stdout: (s) => out.push(s),
        stderr: (s) => err.push(s),
        env: {
          FELHOM_AGENT_PROXMOX_TOKEN: "felhom-agent@pve!agent=0f1e2d3c-4b5a-6978-8a9b-cdef01234567",
          FELHOM_AGENT_PROXMOX_NODE: "pve1",
          FELHOM_AGENT_PROXMOX_ENDPOINT: "https://192.0.2.1:8006",
          FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: `${"AA:".repeat(31)}AA`,
        },
        fs: memoryFs({
          "/etc/felhom-agent/agent.json": { text: JSON.stringify({ local_api: { listen } }) },
        }),
      });
      expect(code).toBe(2);
      expect(err.join("")).toContain("local_api.listen");
      expect(out.join("")).toBe("");
    }
  });
});

test("every command that reads the config exits 2 naming local_api.listen, before doing anything", async () => {
  const dir = mkdtempSync(join(tmpdir(), "felhom-listen-"));
  try {
    const configPath = join(dir, "agent.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        proxmox: {
          endpoint: "https://127.0.0.1:1",
          node: "pve1",
          token: "felhom-agent@pve!agent=0f1e2d3c-4b5a-6978-8a9b-cdef01234567",
          tls: { fingerprint: `${"AA:".repeat(31)}AA` },
        },
        state_dir: join(dir, "state"),
        local_api: { listen: "0x0" },
      }),
      { mode: 0o600 },
    );
    for (const argv of [
      ["config", "show"],
      ["run"],
      ["--selftest"],
      ["--selftest=task", "--vmid", "101"],
      ["token", "list"],
      ["token", "mint", "--vmid", "101"],
      ["localapi", "pins"],
      ["audit", "list"],
    ]) {
      const err: string[] = [];
      const code = await dispatch(["--config", configPath, ...argv], COMMANDS, {
        env: {},
        stdout: () => {},
        stderr: (t) => err.push(t),
      });
      expect([argv.join(" "), code]).toEqual([argv.join(" "), 2]);
      expect(err.join("")).toContain("local_api.listen");
    }
    // Nothing was created: not even the state directory.
    expect(existsSync(join(dir, "state"))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("other addresses", () => {
  test.each([
    ["10.0.0.1", "10.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["012.0.0.1", "10.0.0.1"],
    ["167772161", "10.0.0.1"],
    ["0.0.0.1", "0.0.0.1"],
    ["[FE80::0001%vmbr0]", "fe80::1%vmbr0"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::1", "::1"],
    ["::ffff:10.0.0.1", "::ffff:a00:1"],
    ["pve1.example.lan", "pve1.example.lan"],
    ["localhost", "localhost"],
  ])("%j binds %j (the parsed value, canonical)", (given, bound) => {
    expect(checkListenAddress(given, false)).toBe(bound);
  });

  test.each([
    "1.2.3.256",
    "256.0.0.0.0",
    "0.0.0.0.0",
    "09.1.1.1",
    "1..2",
    "1.2.3.4.",
    ":::",
    "1::2::3",
    "[::1",
    "::ffff:00.0.0.0x",
    "host name",
    "0x0 junk",
    "0x",
  ])("%j is neither an IP literal nor a host name", (bad) => {
    expect(() => checkListenAddress(bad, true)).toThrow(/not an IP address or host name/);
  });

  test("any IPv4 spelled in inet_aton forms parses back to its bytes (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(2),
        (bytes, parts, form) => {
          const head = bytes.slice(0, parts - 1);
          const tail = bytes.slice(parts - 1).reduce((acc, b) => acc * 256 + b, 0);
          const tailText = [String(tail), `0${tail.toString(8)}`, `0x${tail.toString(16)}`][form];
          const text = [...head.map(String), tailText].join(".");
          const ip = parseIpLiteral(text);
          expect(ip?.bytes).toEqual(bytes);
          fc.pre(bytes.some((b) => b !== 0));
          expect(checkListenAddress(text, false)).toBe(bytes.join("."));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// The same spellings through the C library's own parsers (inet_aton, inet_pton), so the
// reading above is the one the OS makes, not only our idea of it.
const python = Bun.which("python3");
describe.skipIf(python === null)("agreement with the C library", () => {
  test("inet_aton and inet_pton read the same bytes for every sampled spelling", () => {
    const v4 = fc.sample(
      fc.oneof(
        v4Wildcard,
        fc
          .array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 4 })
          .chain((ns) =>
            fc
              .array(fc.constantFrom(10, 8, 16), { minLength: ns.length, maxLength: ns.length })
              .map((rs) =>
                ns
                  .map((n, i) =>
                    rs[i] === 8
                      ? `0${n.toString(8)}`
                      : rs[i] === 16
                        ? `0x${n.toString(16)}`
                        : String(n),
                  )
                  .join("."),
              ),
          ),
      ),
      { numRuns: 400, seed: 7 },
    );
    const v6 = fc
      .sample(v6Wildcard, { numRuns: 400, seed: 11 })
      .map((s) => s.replace(/^\[|\]$/g, "").replace(/%.*$/, ""));
    const script = `
import json, socket, sys
out = []
for kind, s in json.load(sys.stdin):
    try:
        b = socket.inet_aton(s) if kind == 4 else socket.inet_pton(socket.AF_INET6, s)
        out.append(list(b))
    except (OSError, ValueError):
        out.append(None)
print(json.dumps(out))
`;
    const items = [...v4.map((s) => [4, s] as const), ...v6.map((s) => [6, s] as const)];
    const p = Bun.spawnSync([python as string, "-c", script], {
      stdin: Buffer.from(JSON.stringify(items)),
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(p.stderr.toString()).toBe("");
    const theirs = JSON.parse(p.stdout.toString()) as (number[] | null)[];
    const ours = items.map(([kind, s]) => {
      const ip = parseIpLiteral(s);
      return ip && ip.family === kind ? [...ip.bytes] : null;
    });
    const differ = items.filter((_, i) => JSON.stringify(ours[i]) !== JSON.stringify(theirs[i]));
    expect(differ).toEqual([]);
    expect(theirs.filter((b) => b !== null).length).toBeGreaterThan(items.length / 2);
  });
});

test("canonical IPv6 text compresses the longest zero run", () => {
  const ip = parseIpLiteral("1:0:0:2:0:0:0:3");
  expect(ip && formatIpLiteral(ip)).toBe("1:0:0:2::3");
});

describe("host names are judged by what they resolve to", () => {
  const hosts: Record<string, string[]> = {
    "pve1.lan": ["10.0.0.5"],
    "sneaky.lan": ["10.0.0.6", "0.0.0.0"],
    "sneaky6.lan": ["::"],
    "mapped.lan": ["::ffff:0.0.0.0"],
  };
  const lookup = async (host: string) => {
    const found = hosts[host];
    if (found === undefined) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found.map((address) => ({ address }));
  };

  test.each(["sneaky.lan", "sneaky6.lan", "mapped.lan"])(
    "%s resolves to a wildcard: refused",
    async (host) => {
      const err = await checkListenName(host, false, lookup).catch((e) => e);
      expect(err).toBeInstanceOf(ListenAddressError);
      expect((err as Error).message).toMatch(/resolves to .* every interface of the host/);
    },
  );

  test("a name that resolves to a real address passes; allow_wildcard skips the check", async () => {
    expect(await checkListenName("pve1.lan", false, lookup)).toBeUndefined();
    expect(await checkListenName("sneaky.lan", true, lookup)).toBeUndefined();
  });

  test("a name that does not resolve is refused; an IP literal is never looked up", async () => {
    const err = await checkListenName("nowhere.lan", false, lookup).catch((e) => e);
    expect((err as Error).message).toContain("does not resolve");
    let asked = 0;
    await checkListenName("10.0.0.1", false, async () => {
      asked++;
      return [];
    });
    expect(asked).toBe(0);
  });
});
