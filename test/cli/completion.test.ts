import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { bashCompletionScript, completionEntries, flagsInHelp } from "../../src/cli/completion.ts";
import type { CliContext } from "../../src/cli/context.ts";
import type { Command } from "../../src/cli/dispatch.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet: CliContext = { env: {}, stdout: () => {}, stderr: () => {} };

/** bash runs the completion function; without bash (outside CI) those tests skip. */
function findBash(): string | null {
  const found = spawnSync("sh", ["-c", "command -v bash"], { encoding: "utf8" });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  if (process.env.CI) throw new Error("bash is required in CI for the completion tests");
  console.warn("bash not found: skipping the completion run tests (install bash)");
  return null;
}
const bash = findBash();

const script = bashCompletionScript(await completionEntries(COMMANDS, quiet));
const scriptFile = join(dir, "felhom-agent.bash");
writeFileSync(scriptFile, script);

/** What bash offers for the words typed so far (the last one is being completed). */
function complete(...typed: string[]): string[] {
  const words = ["felhom-agent", ...typed];
  const program = [
    `source ${JSON.stringify(scriptFile)}`,
    `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_felhom_agent",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's array expansion, not a template
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const r = spawnSync(bash as string, ["--norc", "--noprofile", "-c", program], {
    encoding: "utf8",
    cwd: dir,
  });
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter((l) => l !== "");
}

test("every registered command is in the script", () => {
  for (const c of COMMANDS) expect(script).toContain(`    ${c.name})`);
});

test.skipIf(bash === null)("the script parses (bash -n)", () => {
  const r = spawnSync(bash as string, ["-n", scriptFile], { encoding: "utf8" });
  expect(r.status).toBe(0);
  expect(r.stderr).toBe("");
});

test.skipIf(bash === null)("commands, subcommands, flags and file arguments complete", () => {
  expect(complete("to")).toEqual(["token"]);
  expect(complete("")).toEqual(expect.arrayContaining(COMMANDS.map((c) => c.name)));
  expect(complete("token", "")).toEqual(["mint", "list", "revoke"]);
  expect(complete("token", "list", "--j")).toEqual(["--json"]);
  expect(complete("op", "sign", "--pa")).toEqual(["--params", "--passphrase-file"]);
  expect(complete("op", "check", "--s")).toEqual(["--signers"]);
  expect(complete("--config", "/etc/x.json", "audit", "--ver")).toEqual(["--verify"]);
  // A flag that takes a FILE completes file names.
  writeFileSync(join(dir, "key-one"), "");
  expect(complete("op", "sign", "--key", "key-")).toEqual(["key-one"]);
});

test("a command added to the table completes without any other change", async () => {
  const extra: Command = {
    name: "widget",
    summary: "a command that does not exist",
    subcommands: ["spin"],
    run: async (argv, ctx) => {
      ctx.stdout(
        argv[0] === "spin"
          ? "Usage: felhom-agent widget spin [--fast] [--out FILE]\n"
          : "Usage: felhom-agent widget spin\n",
      );
      return 0;
    },
  };
  const text = bashCompletionScript(await completionEntries([...COMMANDS, extra], quiet));
  expect(text).toContain("    widget)");
  expect(text).toContain('spin) flags="--fast --help --out"');
  expect(text).toMatch(/\| --out[ )]/);
});

test("flags are read from usage lines and option lines, not from prose", () => {
  const help = [
    "Usage: felhom-agent thing [--json] [--key FILE]",
    "",
    "Mentions curl --pinnedpubkey in passing.",
    "",
    "Options:",
    "  --limit N        at most N",
    "  -h, --help       show this help",
    "--selftest=task    a flag at the start of a line",
  ].join("\n");
  expect(flagsInHelp(help)).toEqual({
    flags: ["--help", "--json", "--key", "--limit", "--selftest"],
    fileFlags: ["--key"],
  });
});
