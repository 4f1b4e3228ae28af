import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../../src/cli/context.ts";
import { runEnroll } from "../../src/cli/enroll.ts";
import { readIdentity } from "../../src/hub/identity.ts";
import { type HubSimulator, startHubSimulator } from "../../src/sim/hub/index.ts";
import { tempDir } from "../hub/support.ts";

let sim: HubSimulator;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  sim = await startHubSimulator();
  tmp = await tempDir();
});
afterAll(async () => {
  await sim.stop();
  await tmp.cleanup();
});

function io(configPath?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    ctx: {
      env: { FELHOM_AGENT_STATE_DIR: join(tmp.dir, "state") },
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      ...(configPath !== undefined ? { configPath } : {}),
    },
  };
}

describe("felhom-agent enroll", () => {
  test("enrolls, saves the identity in the state dir, prints the host id and no secret", async () => {
    const { ctx, out, err } = io();
    const code = sim.issueCode();
    const rc = await runEnroll(
      ["--hub", sim.url, "--code", code, "--fingerprint", sim.fingerprint],
      ctx,
    );
    expect(err.join("")).toBe("");
    expect(rc).toBe(0);
    const path = join(tmp.dir, "state", "hub-identity.json");
    const identity = await readIdentity(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = out.join("");
    expect(text).toContain(identity.host_id);
    expect(text).not.toContain(identity.credential);
    expect(text).not.toContain(identity.host_key.seed);
  });

  test("a second enroll is refused (exit 1) and says --force; --force with --json replaces it", async () => {
    const again = io();
    const rc = await runEnroll(
      ["--hub", sim.url, "--code", sim.issueCode(), "--fingerprint", sim.fingerprint],
      again.ctx,
    );
    expect(rc).toBe(1);
    expect(again.err.join("")).toContain("--force");
    const forced = io();
    const rc2 = await runEnroll(
      [
        "--hub",
        sim.url,
        "--code",
        sim.issueCode(),
        "--fingerprint",
        sim.fingerprint,
        "--force",
        "--json",
      ],
      forced.ctx,
    );
    expect(rc2).toBe(0);
    const json = JSON.parse(forced.out.join(""));
    expect(json.enrolled).toBe(true);
    expect(json.identity_file).toBe(join(tmp.dir, "state", "hub-identity.json"));
  });

  test("a used code fails with exit 1 and the regenerate advice", async () => {
    const { ctx, err } = io();
    const path = join(tmp.dir, "other", "id.json");
    const code = sim.issueCode();
    expect(
      await runEnroll(
        [
          "--hub",
          sim.url,
          "--code",
          code,
          "--fingerprint",
          sim.fingerprint,
          "--identity-file",
          path,
        ],
        ctx,
      ),
    ).toBe(0);
    const second = io();
    const rc = await runEnroll(
      [
        "--hub",
        sim.url,
        "--code",
        code,
        "--fingerprint",
        sim.fingerprint,
        "--identity-file",
        `${path}.2`,
      ],
      second.ctx,
    );
    expect(rc).toBe(1);
    expect(second.err.join("")).toContain("regenerate the retrieval code");
    expect(err.join("")).toBe("");
  });

  test.each([
    [["--code", "ABCDEFGH"], "--hub URL is required"],
    [["--hub", "https://hub.example"], "--code CODE is required"],
    [["--hub", "http://hub.example", "--code", "ABCDEFGH"], "https://"],
    [["--hub", "https://hub.example", "--code", "a b"], "--code must be"],
    [
      ["--hub", "https://hub.example", "--code", "ABCDEFGH", "--fingerprint", "zz"],
      "--fingerprint",
    ],
    [
      [
        "--hub",
        "https://hub.example",
        "--code",
        "ABCDEFGH",
        "--fingerprint",
        "AA",
        "--ca-file",
        "/x",
      ],
      "at most one",
    ],
    [
      ["--hub", "https://hub.example", "--code", "ABCDEFGH", "--identity-file", "rel.json"],
      "absolute",
    ],
    [["--bogus"], "bogus"],
  ])("bad flags %p are a usage error naming the problem", async (argv, text) => {
    const { ctx } = io();
    const err = await runEnroll(argv, ctx).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(text);
  });

  test("--help prints usage and exits 0", async () => {
    const { ctx, out } = io();
    expect(await runEnroll(["--help"], ctx)).toBe(0);
    expect(out.join("")).toContain("--code CODE");
  });
});
