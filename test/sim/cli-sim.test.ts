import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { runSimCommand } from "../../src/cli/sim.ts";
import { capture } from "./cli-capture.ts";

describe("felhom-agent sim", () => {
  test("--help documents the flags and the fault grammar", async () => {
    const { io, out } = capture();
    expect(await runSimCommand(["--help"], io)).toBe(0);
    expect(out.join("")).toContain("--faults SPEC");
    expect(out.join("")).toContain("lockwait=101");
  });

  test.each([
    [["--bogus"], "bogus"],
    [["--task-ms", "abc"], "--task-ms must be a non-negative integer"],
    [["--listen", "0.0.0.0:8006"], "must be a loopback address"],
    [["--listen", "nope"], "--listen must be HOST:PORT"],
    [["--faults", "http500=7"], "invalid fault 'http500=7'"],
    [["--seed", "/nonexistent/seed.json"], "cannot read seed file"],
  ])("bad flags %p exit 2 with a clear message", async (argv, text) => {
    const { io, err, out } = capture();
    expect(await runSimCommand(argv as string[], io)).toBe(2);
    expect(err.join("")).toContain(text as string);
    expect(out).toEqual([]);
  });

  test("prints one JSON ready line, serves, and resolves after SIGTERM", async () => {
    const { io, out } = capture();
    const done = runSimCommand(["--auth-delay-ms", "1", "--task-ms", "10"], io);
    for (let i = 0; i < 200 && out.length === 0; i++) await Bun.sleep(10);
    const ready = JSON.parse(out.join(""));
    expect(ready.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.node).toBe("pve1");
    expect(ready.tokens.agent).toStartWith("felhom-agent@pve!agent=");
    expect(ready.tokens.root).toStartWith("root@pam!");
    // Probe the leaf as a pinning client would, before any HTTP byte (docs/bun-runtime.md#tls-pinning).
    const url = new URL(ready.endpoint);
    const presented = await new Promise<string>((resolve, reject) => {
      const s = connect(
        { host: url.hostname, port: Number(url.port), rejectUnauthorized: false },
        () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        },
      );
      s.on("error", reject);
    });
    expect(presented).toBe(ready.fingerprint);
    process.emit("SIGTERM");
    expect(await done).toBe(0);
  });
});
