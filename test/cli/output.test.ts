import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCliOutput } from "../../src/cli/output.ts";

describe("CLI output through Bun.write", () => {
  test("writes land in order on each descriptor, all of them by flush", async () => {
    {
      // A sink that records each write and answers after a turn of the event loop, as a
      // descriptor that is not ready would.
      const seen: string[] = [];
      const o = createCliOutput(Bun.stdout, Bun.stderr, async (_file, text) => {
        await Bun.sleep(text.length > 1000 ? 5 : 0);
        seen.push(text);
        return text.length;
      });
      const big = "x".repeat(200_000);
      o.stdout("one\n");
      o.stdout(big);
      o.stdout("three\n");
      o.stderr("e\n");
      await o.flush();
      expect(seen.filter((t) => t !== "e\n")).toEqual(["one\n", big, "three\n"]);
      expect(seen).toContain("e\n");
    }
  });

  test("a failed write ends that stream quietly; the other keeps going", async () => {
    const seen: string[] = [];
    const o = createCliOutput(Bun.stdout, Bun.stderr, (file, text) => {
      if (file === Bun.stdout) return Promise.reject(new Error("EPIPE"));
      seen.push(text);
      return Promise.resolve(text.length);
    });
    o.stdout("lost\n");
    o.stdout("lost too\n");
    o.stderr("kept\n");
    await o.flush();
    expect(seen).toEqual(["kept\n"]);
  });

  test("the real descriptors: a child process's output arrives whole and in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "felhom-output-"));
    try {
      const script = join(dir, "print.ts");
      const mod = join(import.meta.dir, "../../src/cli/output.ts");
      await Bun.write(
        script,
        `import { createCliOutput } from ${JSON.stringify(mod)};
const o = createCliOutput();
for (let i = 0; i < 2000; i++) o.stdout(\`line \${i} ${"y".repeat(100)}\\n\`);
await o.flush();
process.exit(0);
`,
      );
      const r = Bun.spawnSync([process.execPath, script], { stdout: "pipe" });
      const lines = r.stdout.toString().trimEnd().split("\n");
      expect(lines).toHaveLength(2000);
      expect(lines.map((l) => Number(l.split(" ")[1]))).toEqual([...Array(2000).keys()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
