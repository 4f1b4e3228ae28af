import { afterAll, describe, expect, test } from "bun:test";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { modeOf, runInstall, sha256, tempDirs, visudoMissing } from "./support.ts";

const tmp = tempDirs();
const noVisudo = visudoMissing();
afterAll(() => tmp.cleanup());

const COMPLETION = "/usr/share/bash-completion/completions/felhom-agent";
const COMPLETION_TEXT =
  "_felhom_agent() { COMPREPLY=(); }\ncomplete -F _felhom_agent felhom-agent\n";

/**
 * A stand-in binary that answers `completion bash` (when `withCompletion`) and records the
 * arguments of `setup` in $SETUP_RECORD, exiting with $SETUP_EXIT.
 */
async function release(withCompletion: boolean) {
  const dir = await tmp.make("felhom-setup-rel-");
  const body = [
    "#!/bin/sh",
    'if [ "$1" = completion ] && [ "$2" = bash ]; then',
    withCompletion
      ? `  printf '%s' '${COMPLETION_TEXT}'; exit 0`
      : "  echo 'unknown command' >&2; exit 2",
    "fi",
    // install.sh files the binary under versions/<the version it reports>.
    'if [ "$1" = version ] && [ "$2" = --json ]; then echo \'{"version":"1.0.0"}\'; exit 0; fi',
    'if [ "$1" = setup ]; then printf "%s\\n" "$*" >>"$SETUP_RECORD"; [ -z "$SETUP_EXIT" ] || exit "$SETUP_EXIT"; exit 0; fi',
    "echo felhom-agent 1.0.0",
    "",
  ].join("\n");
  const binary = join(dir, "felhom-agent");
  await writeFile(binary, body);
  await chmod(binary, 0o755);
  await writeFile(join(dir, "SHA256SUMS"), `${sha256(body)}  felhom-agent\n`);
  const root = join(await tmp.make(), "root");
  await mkdir(root);
  const record = join(dir, "setup-calls");
  return { binary, root, record };
}

describe("install.sh --setup", () => {
  test("--enroll and --hub need --setup, and each other", () => {
    const a = runInstall([
      "--binary",
      "/nonexistent",
      "--enroll",
      "ABCDEF12",
      "--hub",
      "https://h",
    ]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--enroll and --hub go with --setup");
    const b = runInstall(["--binary", "/nonexistent", "--setup", "--enroll", "ABCDEF12"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--enroll CODE and --hub URL go together");
    const c = runInstall(["--uninstall", "--setup"]);
    expect(c.code).toBe(2);
  });

  test.skipIf(noVisudo)(
    "installs, then hands over to `felhom-agent setup` with the root and the enrollment",
    async () => {
      const { binary, root, record } = await release(true);
      const r = runInstall(
        [
          "--root",
          root,
          "--binary",
          binary,
          "--setup",
          "--enroll",
          "ABCDEF12",
          "--hub",
          "https://hub.example.net",
        ],
        { SETUP_RECORD: record },
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(await readFile(record, "utf8")).toBe(
        `setup --root ${root} --enroll ABCDEF12 --hub https://hub.example.net\n`,
      );
      // The manual token steps are not printed when setup does them.
      expect(r.stdout).not.toContain("pveum user token add");
      expect(r.stdout).toContain("setup      felhom-agent setup");
    },
  );

  test.skipIf(noVisudo)(
    "a failing setup fails the installer and says what to run next",
    async () => {
      const { binary, root, record } = await release(true);
      const r = runInstall(["--root", root, "--binary", binary, "--setup"], {
        SETUP_RECORD: record,
        SETUP_EXIT: "1",
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("felhom-agent setup failed");
    },
  );

  test.skipIf(noVisudo)(
    "without --setup the manual steps are printed, with the one command first",
    async () => {
      const { binary, root } = await release(true);
      const r = runInstall(["--root", root, "--binary", binary]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("felhom-agent setup [--enroll CODE --hub URL]");
      expect(r.stdout).toContain("pveum user token add felhom-agent@pve agent --privsep 1");
    },
  );
});

describe("bash completion", () => {
  test.skipIf(noVisudo)(
    "is installed from `felhom-agent completion bash`, kept on a re-run, removed on uninstall",
    async () => {
      const { binary, root } = await release(true);
      const first = runInstall(["--root", root, "--binary", binary]);
      expect(first.code).toBe(0);
      expect(await readFile(join(root, COMPLETION), "utf8")).toBe(COMPLETION_TEXT);
      expect((await modeOf(join(root, COMPLETION))).toString(8)).toBe("644");
      const again = runInstall(["--root", root, "--binary", binary]);
      expect(again.stdout).toContain(`unchanged  ${COMPLETION}`);
      expect(again.stdout).toContain("nothing changed");
      const gone = runInstall(["--root", root, "--uninstall"]);
      expect(gone.code).toBe(0);
      expect(gone.stdout).toContain(`remove     ${COMPLETION}`);
    },
  );

  test.skipIf(noVisudo)(
    "is skipped with a note when the binary has no completion command",
    async () => {
      const { binary, root } = await release(false);
      const r = runInstall(["--root", root, "--binary", binary]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        "skipped    bash completion: this felhom-agent has no 'completion bash' command",
      );
      await expect(readFile(join(root, COMPLETION), "utf8")).rejects.toThrow();
    },
  );
});
