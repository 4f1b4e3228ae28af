import { afterAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/log/logger.ts";
import { createRecordingRunner, createSpawnRunner, RunnerError } from "../../src/proxmox/runner.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("spawn runner, direct", () => {
  const runner = createSpawnRunner({ mode: "direct", defaultTimeoutMs: 20_000 });

  test("runs a command with an argv array, no shell", async () => {
    const r = await runner.run("/bin/echo", ["hello", "$HOME", "a b;c"]);
    expect(r).toEqual({
      code: 0,
      signal: null,
      stdout: "hello $HOME a b;c\n",
      stderr: "",
      timedOut: false,
      truncated: false,
    });
  });

  test("captures stderr and the exit code", async () => {
    const r = await runner.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  });

  test("passes stdin", async () => {
    const r = await runner.run("/bin/cat", [], { stdin: "line one\n" });
    expect(r.stdout).toBe("line one\n");
  });

  test("children do not see the agent's environment", async () => {
    process.env.FELHOM_AGENT_RUNNER_TEST_SECRET = "must-not-leak";
    try {
      const r = await runner.run("/usr/bin/env", []);
      expect(r.stdout).not.toContain("must-not-leak");
      expect(r.stdout).toContain("LC_ALL=C");
    } finally {
      delete process.env.FELHOM_AGENT_RUNNER_TEST_SECRET;
    }
  });

  test("a timeout kills the process", async () => {
    const r = await runner.run("/bin/sleep", ["10"], { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.signal).toBe("SIGKILL");
  });

  test("a timeout also kills the command's children", async () => {
    const r = await runner.run("/bin/sh", ["-c", "sleep 10; echo never"], { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toBe("");
  });

  test("output past the cap is cut and the process killed", async () => {
    const capped = createSpawnRunner({
      mode: "direct",
      maxOutputBytes: 64 * 1024,
      defaultTimeoutMs: 20_000,
    });
    const r = await capped.run("/bin/sh", ["-c", "yes"]);
    expect(r.truncated).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.stdout.length).toBe(64 * 1024);
    expect(r.stdout.startsWith("y\ny\n")).toBe(true);
    expect(r.code === 0).toBe(false);
  });

  test("a chatty stderr does not block stdout", async () => {
    const r = await runner.run("/bin/sh", [
      "-c",
      "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789 >&2; i=$((i+1)); done; echo done",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("done\n");
    expect(r.stderr.length).toBe(2000 * 41);
  });

  test("a relative command is refused before anything runs", async () => {
    await expect(runner.run("echo", ["x"])).rejects.toBeInstanceOf(RunnerError);
  });

  test("a missing command is a RunnerError", async () => {
    await expect(runner.run("/nonexistent/cmd", [])).rejects.toBeInstanceOf(RunnerError);
  });

  test("logs the command at debug and a timeout at warn", async () => {
    const lines: string[] = [];
    const logged = createSpawnRunner({
      mode: "direct",
      logger: createLogger({ level: "debug", sink: (l) => lines.push(l) }),
    });
    await logged.run("/bin/sleep", ["10"], { timeoutMs: 100 });
    const recs = lines.map((l) => JSON.parse(l));
    expect(recs[0]).toMatchObject({ level: "debug", msg: "run", cmd: "/bin/sleep", args: ["10"] });
    expect(recs.at(-1)).toMatchObject({ level: "warn", timedOut: true });
  });
});

describe("spawn runner, sudo", () => {
  test("runs `sudo -n -- <absolute cmd> args…`", async () => {
    const dir = await mkdtemp(join(tmpdir(), "felhom-runner-"));
    dirs.push(dir);
    const fakeSudo = join(dir, "sudo");
    // Prints its argv one per line, then runs the command like sudo would.
    await writeFile(
      fakeSudo,
      '#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\nshift 2\nexec "$@"\n',
    );
    await chmod(fakeSudo, 0o755);
    const runner = createSpawnRunner({ mode: "sudo", sudoPath: fakeSudo });
    const r = await runner.run("/bin/echo", ["-n", "x y"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("arg:-n\narg:--\narg:/bin/echo\narg:-n\narg:x y\nx y");
  });

  test("a timeout in sudo mode ends the command (TERM relayed, then KILL)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "felhom-runner-"));
    dirs.push(dir);
    const fakeSudo = join(dir, "sudo");
    await writeFile(fakeSudo, '#!/bin/sh\nshift 2\nexec "$@"\n');
    await chmod(fakeSudo, 0o755);
    const runner = createSpawnRunner({ mode: "sudo", sudoPath: fakeSudo, killGraceMs: 100 });
    const r = await runner.run("/bin/sleep", ["10"], { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
  });

  test("a relative sudo path is refused", () => {
    expect(() => createSpawnRunner({ mode: "sudo", sudoPath: "sudo" })).toThrow(RunnerError);
  });
});

describe("recording runner", () => {
  test("records calls and answers from a list", async () => {
    const r = createRecordingRunner([{ stdout: "a" }, { code: 2, stderr: "b" }]);
    expect((await r.run("/bin/x", ["1"])).stdout).toBe("a");
    expect((await r.run("/bin/y", [], { timeoutMs: 5 })).code).toBe(2);
    expect(r.calls).toEqual([
      { cmd: "/bin/x", args: ["1"], opts: undefined },
      { cmd: "/bin/y", args: [], opts: { timeoutMs: 5 } },
    ]);
    await expect(r.run("/bin/z", [])).rejects.toThrow("unexpected command #3");
  });

  test("answers from a function, and rejects with a scripted Error", async () => {
    const r = createRecordingRunner((c) =>
      c.cmd === "/bin/fail" ? new Error("boom") : { stdout: c.args.join(",") },
    );
    expect((await r.run("/bin/ok", ["a", "b"])).stdout).toBe("a,b");
    await expect(r.run("/bin/fail", [])).rejects.toThrow("boom");
  });
});
