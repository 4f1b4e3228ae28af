import { describe, expect, test } from "bun:test";
import { COMMANDS } from "../../src/cli/commands.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { dispatch } from "../../src/cli/dispatch.ts";

/** Runs the binary's dispatch in-process, as `felhom-agent ARGV` would, with no config file. */
async function cli(argv: string[]) {
  let out = "";
  let err = "";
  const ctx: CliContext = {
    env: {},
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  };
  const code = await dispatch(argv, COMMANDS, ctx);
  return { code, out, err };
}

/** Commands whose first word may be left out: `audit` lists, `sim` runs the PVE simulator. */
const DEFAULT_SUBCOMMAND = new Set(["audit", "sim"]);

describe("every registered command", () => {
  for (const c of COMMANDS) {
    test(`${c.name} --help: exit 0, usage and an Example on stdout, nothing on stderr`, async () => {
      const r = await cli([c.name, "--help"]);
      expect(r.code).toBe(0);
      expect(r.out).toStartWith("Usage: felhom-agent");
      expect(r.out).toMatch(/\nExamples?:\n {2}\S/);
      expect(r.out).toContain("Exit codes: 0 ");
      expect(r.err).toBe("");
    });

    for (const sub of c.subcommands ?? []) {
      test(`${c.name} ${sub} --help: exit 0 with an Example`, async () => {
        const r = await cli([c.name, sub, "--help"]);
        expect(r.code).toBe(0);
        expect(r.out).toMatch(/\nExamples?:\n {2}\S/);
        expect(r.err).toBe("");
      });
    }

    if ((c.subcommands?.length ?? 0) > 0 && !DEFAULT_SUBCOMMAND.has(c.name)) {
      test(`${c.name} without a subcommand: exit 2 and the one error line`, async () => {
        const r = await cli([c.name]);
        expect(r.code).toBe(2);
        expect(r.out).toBe("");
        expect(r.err).toBe(
          `felhom-agent: ${c.name}: missing subcommand; one of: ${(c.subcommands ?? []).join(", ")}; run 'felhom-agent ${c.name} --help' for usage\n`,
        );
      });
    }

    test(`${c.name} with an unknown flag: exit 2 and the one error line`, async () => {
      const first = c.subcommands?.[0];
      const argv = [c.name, ...(first && !DEFAULT_SUBCOMMAND.has(c.name) ? [first] : [])];
      const r = await cli([...argv, "--no-such-flag"]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`^felhom-agent: ${c.name}(?: [a-z]+)?: .+; .+\\n$`));
    });
  }
});

test("an unknown subcommand names the choices", async () => {
  const r = await cli(["token", "frobnicate"]);
  expect(r.code).toBe(2);
  expect(r.err).toBe(
    "felhom-agent: token: unknown token subcommand 'frobnicate'; one of: mint, list, revoke; run 'felhom-agent token --help' for usage\n",
  );
});

test("a configuration error has the same shape for every command that reads the config", async () => {
  for (const argv of [["status"], ["audit", "verify"], ["token", "list"], ["config", "show"]]) {
    let err = "";
    const code = await dispatch(argv, COMMANDS, {
      env: { FELHOM_AGENT_NO_SUCH_SETTING: "1" },
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
    });
    expect(code).toBe(2);
    expect(err).toMatch(/^felhom-agent: [a-z]+(?: [a-z]+)?: configuration error: .+; fix the file/);
  }
});
