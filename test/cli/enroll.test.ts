import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { parseSshPublicKey } from "../../src/authz/ssh-public-key.ts";
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
      // No terminal to ask on, whatever runs the tests.
      confirm: undefined,
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

  describe("operator signers", () => {
    const ALICE = {
      name: "ops-alice",
      public_key:
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDy9Nl5u2fnkGKBnW/a8drIxuS4dH7bgeIGAWrM0/kBw alice",
      role: "operational" as const,
    };
    const BOB = {
      name: "rec-bob",
      public_key:
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFaH0CJm3k2m8lQfHnO7Gb1SvC7jvqkzqQG4A9q4Sdd bob",
      role: "recovery" as const,
    };
    const fp = (s: { public_key: string }) => parseSshPublicKey(s.public_key).fingerprint;
    beforeAll(() => sim.setSigners([ALICE, BOB]));
    afterAll(() => sim.setSigners([]));
    const argv = (path: string, ...more: string[]) => [
      "--hub",
      sim.url,
      "--code",
      sim.issueCode(),
      "--fingerprint",
      sim.fingerprint,
      "--identity-file",
      path,
      ...more,
    ];

    test("without acceptance: exit 2, nothing written, fingerprints and the flag shown", async () => {
      const { ctx, err } = io();
      const path = join(tmp.dir, "signers-none", "id.json");
      expect(await runEnroll(argv(path), ctx)).toBe(2);
      const text = err.join("");
      expect(text).toContain(`${fp(ALICE)}  operational  ops-alice`);
      expect(text).toContain(`${fp(BOB)}  recovery     rec-bob`);
      expect(text).toContain(`--accept-signers ${fp(ALICE)},${fp(BOB)}`);
      expect(existsSync(join(tmp.dir, "signers-none"))).toBe(false);
    });

    test("--accept-signers with the exact set enrolls and prints the fingerprints", async () => {
      const { ctx, out } = io();
      const path = join(tmp.dir, "signers-ok", "id.json");
      const rc = await runEnroll(argv(path, "--accept-signers", `${fp(BOB)},${fp(ALICE)}`), ctx);
      expect(rc).toBe(0);
      expect(out.join("")).toContain(`${fp(ALICE)}  operational  ops-alice`);
      expect((await readIdentity(path)).signers).toEqual([ALICE, BOB]);
    });

    test("--accept-signers with a subset is not acceptance: exit 2, nothing written", async () => {
      const { ctx, out } = io();
      const path = join(tmp.dir, "signers-subset", "id.json");
      const rc = await runEnroll(argv(path, "--accept-signers", fp(ALICE), "--json"), ctx);
      expect(rc).toBe(2);
      const json = JSON.parse(out.join(""));
      expect(json).toMatchObject({ enrolled: false, error: "signers_not_accepted" });
      expect(json.offered_signers.map((s: { fingerprint: string }) => s.fingerprint)).toEqual([
        fp(ALICE),
        fp(BOB),
      ]);
      expect(existsSync(join(tmp.dir, "signers-subset"))).toBe(false);
    });

    test("on a terminal the operator is asked: yes enrolls, no writes nothing", async () => {
      const asked: string[] = [];
      const no = io();
      const noPath = join(tmp.dir, "signers-no", "id.json");
      const rcNo = await runEnroll(argv(noPath), {
        ...no.ctx,
        confirm: async (q) => {
          asked.push(q);
          return false;
        },
      });
      expect(rcNo).toBe(2);
      expect(asked[0]).toContain(fp(ALICE));
      expect(existsSync(join(tmp.dir, "signers-no"))).toBe(false);
      const yes = io();
      const yesPath = join(tmp.dir, "signers-yes", "id.json");
      expect(await runEnroll(argv(yesPath), { ...yes.ctx, confirm: async () => true })).toBe(0);
      expect((await readIdentity(yesPath)).signers).toHaveLength(2);
    });

    test("a malformed fingerprint is a usage error before the code is spent", async () => {
      const { ctx } = io();
      const before = sim.requests.length;
      const err = await runEnroll(
        argv(join(tmp.dir, "x", "id.json"), "--accept-signers", "SHA256:short"),
        ctx,
      ).catch((e) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect(sim.requests.length).toBe(before);
    });
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
