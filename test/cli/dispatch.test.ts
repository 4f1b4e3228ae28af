import { describe, expect, test } from "bun:test";
import type { CliContext } from "../../src/cli/context.ts";
import { UsageError } from "../../src/cli/context.ts";
import { type Command, dispatch, parseGlobal } from "../../src/cli/dispatch.ts";

describe("parseGlobal", () => {
  test("command with its own flags", () => {
    expect(parseGlobal(["--config", "/x.json", "sim", "--task-ms", "5"])).toEqual({
      help: false,
      configPath: "/x.json",
      command: "sim",
      rest: ["--task-ms", "5"],
    });
  });
  test("--selftest as a flag, in any order, keeps its flags and drops --config", () => {
    expect(parseGlobal(["--json", "--config=/c", "--selftest=task", "--vmid", "101"])).toEqual({
      help: false,
      configPath: "/c",
      command: "selftest",
      rest: ["--json", "--selftest=task", "--vmid", "101"],
    });
  });
  test("--version is the version command", () => {
    expect(parseGlobal(["--version"]).command).toBe("version");
  });
  test.each([[["--config"]], [["--config", "--selftest"]], [["--config="]], [["--bogus", "sim"]]])(
    "usage errors for %p",
    (argv) => {
      expect(() => parseGlobal(argv)).toThrow(UsageError);
    },
  );
});

function capture(): CliContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env: {}, out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t) };
}

describe("dispatch", () => {
  const seen: string[][] = [];
  const commands: Command[] = [
    {
      name: "echo",
      summary: "echo",
      run: async (argv, ctx) => {
        seen.push([...argv, `config=${ctx.configPath ?? ""}`]);
        if (argv.includes("--bad")) throw new UsageError("bad flag");
        return 0;
      },
    },
  ];

  test("no command: usage on stderr, exit 2; --help: usage on stdout, exit 0", async () => {
    const a = capture();
    expect(await dispatch([], commands, a)).toBe(2);
    expect(a.err.join("")).toContain("Usage: felhom-agent");
    const b = capture();
    expect(await dispatch(["--help"], commands, b)).toBe(0);
    expect(b.out.join("")).toContain("echo");
  });

  test("unknown command is exit 2 and names it", async () => {
    const c = capture();
    expect(await dispatch(["nope"], commands, c)).toBe(2);
    expect(c.err.join("")).toContain("unknown command 'nope'");
  });

  test("passes the global --config and the command's args; a UsageError is exit 2", async () => {
    const c = capture();
    expect(await dispatch(["-c", "/a.json", "echo", "x"], commands, c)).toBe(0);
    expect(seen.at(-1)).toEqual(["x", "config=/a.json"]);
    const d = capture();
    expect(await dispatch(["echo", "--bad"], commands, d)).toBe(2);
    expect(d.err.join("")).toContain("bad flag");
  });

  test("global --help before a command asks the command for its help", async () => {
    const c = capture();
    await dispatch(["--help", "echo"], commands, c);
    expect(seen.at(-1)).toEqual(["--help", "config="]);
  });
});
