import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import { EnrollError, type EnrollOptions, enrollHost } from "../../src/hub/enroll.ts";
import { readIdentity } from "../../src/hub/identity.ts";
import { acceptExactly } from "../../src/hub/signer-acceptance.ts";
import { silentLogger } from "../../src/log/types.ts";
import { type HubSimulator, startHubSimulator } from "../../src/sim/hub/index.ts";
import { JumpClock } from "../support/jump-clock.ts";
import { tempDir } from "./support.ts";

const OPERATOR = {
  name: "ops-alice",
  public_key:
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDy9Nl5u2fnkGKBnW/a8drIxuS4dH7bgeIGAWrM0/kBw alice",
  role: "operational" as const,
};

const OPERATOR_FP = parseSshPublicKey(OPERATOR.public_key).fingerprint;

let sim: HubSimulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
const clock = new JumpClock();

beforeAll(async () => {
  sim = await startHubSimulator({ clock, signers: [OPERATOR] });
  tmp = await tempDir();
});
afterAll(async () => {
  await sim.stop();
  await tmp.cleanup();
});

let n = 0;
function opts(over: Partial<EnrollOptions> = {}): EnrollOptions {
  n++;
  return {
    hubUrl: sim.url,
    code: sim.issueCode(),
    force: false,
    identityPath: join(tmp.dir, `id-${n}`, "hub-identity.json"),
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    pin: { fingerprint: sim.fingerprint },
    agentVersion: "0.0.0-test",
    clock,
    logger: silentLogger,
    requestTimeoutMs: 5000,
    acceptSigners: acceptExactly([OPERATOR_FP]),
    ...over,
  };
}

async function enrollFailure(o: EnrollOptions): Promise<EnrollError> {
  try {
    await enrollHost(o);
  } catch (err) {
    if (err instanceof EnrollError) return err;
    throw err;
  }
  throw new Error("enrollment unexpectedly succeeded");
}

async function filesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

describe("enrollment", () => {
  test("happy path: durable identity saved 0600, only the public key sent", async () => {
    const o = opts();
    const identity = await enrollHost(o);
    const info = await stat(o.identityPath);
    expect(info.mode & 0o777).toBe(0o600);
    const onDisk = await readIdentity(o.identityPath);
    expect(onDisk).toEqual(identity);
    expect(identity.signers).toEqual([OPERATOR]);
    expect(identity.hub_tls).toEqual({ fingerprint: sim.fingerprint });
    const host = sim.state.hosts.get(identity.host_id);
    expect(host).toBeDefined();
    expect(Buffer.from(host?.publicKey ?? []).toString("base64")).toBe(identity.host_key.public);
    expect(host?.credential).toBe(identity.credential);
    expect(sim.state.codes.get(o.code)?.usedBy).toBe(identity.host_id);
    // The seed never travelled: no request the hub saw could contain it (the sim keeps none).
    expect(
      JSON.stringify(
        [...sim.state.hosts.values()].map((h) => ({ ...h, publicKey: [...h.publicKey] })),
      ),
    ).not.toContain(identity.host_key.seed);
  });

  test("signers not accepted: nothing written, the message lists fingerprints, roles and the flag", async () => {
    const o = opts({ acceptSigners: () => false });
    const err = await enrollFailure(o);
    expect(err.kind).toBe("signers_not_accepted");
    expect(err.offered).toEqual([
      { name: "ops-alice", role: "operational", fingerprint: OPERATOR_FP },
    ]);
    expect(err.message).toContain(`${OPERATOR_FP}  operational  ops-alice`);
    expect(err.message).toContain(`--accept-signers ${OPERATOR_FP}`);
    expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
  });

  test("acceptance is of the exact set: a signer the operator did not name refuses the lot", async () => {
    const extra = {
      name: "mallory",
      public_key:
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFaH0CJm3k2m8lQfHnO7Gb1SvC7jvqkzqQG4A9q4Sdd mallory",
      role: "recovery" as const,
    };
    sim.setSigners([OPERATOR, extra]);
    try {
      const o = opts();
      const err = await enrollFailure(o);
      expect(err.kind).toBe("signers_not_accepted");
      expect(err.offered?.map((s) => s.fingerprint)).toEqual([
        OPERATOR_FP,
        parseSshPublicKey(extra.public_key).fingerprint,
      ]);
      expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
      // Naming both, plus one the hub did not offer, is not the set either.
      const more = opts({
        acceptSigners: acceptExactly([
          OPERATOR_FP,
          parseSshPublicKey(extra.public_key).fingerprint,
          "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ]),
      });
      expect((await enrollFailure(more)).kind).toBe("signers_not_accepted");
    } finally {
      sim.setSigners([OPERATOR]);
    }
  });

  test("a signer key that is not ed25519 is a bad answer; nothing is written", async () => {
    // A well-formed base64 blob of key type ssh-rsa.
    const blob = Buffer.concat([
      Buffer.from([0, 0, 0, 7]),
      Buffer.from("ssh-rsa"),
      Buffer.from([0, 0, 0, 1, 1]),
    ]).toString("base64");
    sim.setSigners([{ ...OPERATOR, public_key: `ssh-ed25519 ${blob}` }]);
    try {
      const o = opts({ acceptSigners: () => true });
      const err = await enrollFailure(o);
      expect(err.kind).toBe("bad_response");
      expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
    } finally {
      sim.setSigners([OPERATOR]);
    }
  });

  test("a signer the daemon would ignore (a name outside the signer alphabet) is a bad answer", async () => {
    sim.setSigners([{ ...OPERATOR, name: "Alice Smith" }]);
    try {
      const o = opts({ acceptSigners: () => true });
      const err = await enrollFailure(o);
      expect(err.kind).toBe("bad_response");
      expect(err.message).toContain("signers[0]");
      expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
    } finally {
      sim.setSigners([OPERATOR]);
    }
  });

  test("a reused code is refused, nothing is written, the message says to regenerate", async () => {
    const first = opts();
    await enrollHost(first);
    const again = opts({ code: first.code });
    const err = await enrollFailure(again);
    expect(err.kind).toBe("code_rejected");
    expect(err.message).toContain("already been used");
    expect(err.message).toContain("regenerate the retrieval code");
    expect(await filesIn(join(again.identityPath, ".."))).toEqual([]);
  });

  test("an expired code is refused", async () => {
    const code = sim.issueCode({ ttlMs: 60_000 });
    clock.jump(61_000);
    try {
      const o = opts({ code });
      const err = await enrollFailure(o);
      expect(err.kind).toBe("code_rejected");
      expect(err.message).toContain("has expired");
      expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
    } finally {
      clock.jump(-61_000);
    }
  });

  test("an unknown code is refused", async () => {
    const err = await enrollFailure(opts({ code: "NOSUCHCODE42" }));
    expect(err.kind).toBe("code_rejected");
    expect(err.message).toContain("not known");
  });

  test("crash while persisting: nothing half-written, regenerate advised", async () => {
    const o = opts({
      beforeRename: () => {
        throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
      },
    });
    const err = await enrollFailure(o);
    expect(err.kind).toBe("persist_failed");
    expect(err.written).toBe(false);
    expect(err.message).toContain("ENOSPC");
    expect(err.message).toContain("regenerate the retrieval code");
    expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
  });

  test("crash while persisting over an existing identity (--force) keeps the old one intact", async () => {
    const first = opts();
    await enrollHost(first);
    const before = await readFile(first.identityPath, "utf8");
    const err = await enrollFailure(
      opts({
        identityPath: first.identityPath,
        force: true,
        beforeRename: () => {
          throw new Error("killed");
        },
      }),
    );
    expect(err.kind).toBe("persist_failed");
    expect(await readFile(first.identityPath, "utf8")).toBe(before);
    expect(await filesIn(join(first.identityPath, ".."))).toEqual(["hub-identity.json"]);
  });

  test("a temp file left by a killed process is ignored and cleaned up", async () => {
    const o = opts();
    await enrollHost({
      ...o,
      code: sim.issueCode(),
      identityPath: o.identityPath,
      beforeRename: () => {
        throw new Error("x");
      },
    }).catch(() => {});
    const dir = join(o.identityPath, "..");
    await writeFile(join(dir, "hub-identity.json.tmp-deadbeef0000"), '{"half":', { mode: 0o600 });
    await enrollHost(o);
    expect(await filesIn(dir)).toEqual(["hub-identity.json"]);
  });

  test("enrolling twice is refused unless --force", async () => {
    const first = opts();
    const a = await enrollHost(first);
    const err = await enrollFailure(opts({ identityPath: first.identityPath }));
    expect(err.kind).toBe("already_enrolled");
    expect(err.message).toContain(a.host_id);
    expect(err.message).toContain("--force");
    expect((await readIdentity(first.identityPath)).host_id).toBe(a.host_id);
    const b = await enrollHost(opts({ identityPath: first.identityPath, force: true }));
    expect(b.host_id).not.toBe(a.host_id);
    expect((await readIdentity(first.identityPath)).host_id).toBe(b.host_id);
  });

  test("a wrong pin refuses before any request reaches the hub", async () => {
    const before = sim.requests.length;
    const o = opts({ trust: { kind: "fingerprint", sha256: `AA${sim.fingerprint.slice(2)}` } });
    const err = await enrollFailure(o);
    expect(err.kind).toBe("hub_unreachable");
    expect(err.message).toContain("does not match the pin");
    expect(sim.requests.length).toBe(before);
    expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
  });

  test("the system CAs do not trust the simulator's self-signed certificate", async () => {
    const err = await enrollFailure(opts({ trust: { kind: "system" } }));
    expect(err.kind).toBe("hub_unreachable");
  });

  test("a private CA file works as trust", async () => {
    const identity = await enrollHost(
      opts({
        trust: { kind: "ca", caFile: "/x.pem", caPem: sim.certPem },
        pin: { ca_file: "/x.pem" },
      }),
    );
    expect(identity.hub_tls).toEqual({ ca_file: "/x.pem" });
  });

  test("a malformed enrollment answer is refused without writing, and no secret is echoed", async () => {
    sim.setFaults({ malformedEnroll: true });
    try {
      const o = opts();
      const err = await enrollFailure(o);
      expect(err.kind).toBe("bad_response");
      expect(err.message).toContain("credential");
      expect(await filesIn(join(o.identityPath, ".."))).toEqual([]);
    } finally {
      sim.setFaults({});
    }
  });

  test("an answer lost on the way: nothing written, regenerate advised, the code is burned", async () => {
    sim.setFaults({ loseEnrollAnswer: true });
    const o = opts();
    try {
      const err = await enrollFailure(o);
      expect(err.kind).toBe("hub_error");
      expect(err.message).toContain("regenerate");
    } finally {
      sim.setFaults({});
    }
    const retry = await enrollFailure(opts({ code: o.code }));
    expect(retry.kind).toBe("code_rejected");
  });
});
