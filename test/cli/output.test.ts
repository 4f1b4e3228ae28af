import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCliOutput, type Sink } from "../../src/cli/output.ts";

/** A sink that records what reached it, each flush answering later as a slow reader would. */
function slowSink(seen: string[], fail = false): Sink {
  let buffered = "";
  return {
    write(chunk) {
      buffered += String(chunk);
      return String(chunk).length;
    },
    flush() {
      const text = buffered;
      buffered = "";
      return Bun.sleep(2).then(() => {
        if (fail) throw new Error("EPIPE");
        seen.push(text);
        return text.length;
      });
    },
  };
}

describe("CLI output through Bun's file sinks", () => {
  test("writes keep their order; flush waits until all have reached the descriptor", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = createCliOutput(
      () => slowSink(out),
      () => slowSink(err),
    );
    const big = "x".repeat(200_000);
    o.stdout("one\n");
    o.stdout(big);
    o.stdout("three\n");
    o.stderr("e\n");
    await o.flush();
    expect(out.join("")).toBe(`one\n${big}three\n`);
    expect(err.join("")).toBe("e\n");
  });

  test("a failed write ends that stream quietly; the other keeps going", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = createCliOutput(
      () => slowSink(out, true),
      () => slowSink(err),
    );
    o.stdout("lost\n");
    await o.flush();
    o.stdout("dropped, the reader is gone\n");
    o.stderr("kept\n");
    await o.flush();
    expect(out).toEqual([]);
    expect(err).toEqual(["kept\n"]);
  });

  test("a stream never written to is never opened", async () => {
    let opened = 0;
    const o = createCliOutput(
      () => slowSink([]),
      () => {
        opened++;
        return slowSink([]);
      },
    );
    o.stdout("only stdout\n");
    await o.flush();
    expect(opened).toBe(0);
  });

  test("the real descriptors: a child's output arrives whole and in order through a slow pipe", async () => {
    const dir = mkdtempSync(join(tmpdir(), "felhom-output-"));
    try {
      const script = join(dir, "print.ts");
      const mod = join(import.meta.dir, "../../src/cli/output.ts");
      await Bun.write(
        script,
        `import { createCliOutput } from ${JSON.stringify(mod)};
const o = createCliOutput();
for (let i = 0; i < 3000; i++) o.stdout(\`line \${i} ${"y".repeat(200)}\\n\`);
await o.flush();
process.exit(0);
`,
      );
      const child = Bun.spawn([process.execPath, script], { stdout: "pipe" });
      // Read late, so the pipe fills and the writes queue in the sink.
      await Bun.sleep(300);
      const text = await new Response(child.stdout).text();
      expect(await child.exited).toBe(0);
      const lines = text.trimEnd().split("\n");
      expect(lines).toHaveLength(3000);
      expect(lines.map((l) => Number(l.split(" ")[1]))).toEqual([...Array(3000).keys()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
