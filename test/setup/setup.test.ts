import { afterEach, describe, expect, test } from "bun:test";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_ROLE, REQUIRED_PRIVILEGES } from "../../src/selftest/required-privileges.ts";
import {
  type Host,
  isRoot,
  makeHost,
  NODE,
  pveumWrites,
  SERVICE_GID,
  SERVICE_UID,
} from "./support.ts";

const TOKEN_FILE = "etc/felhom-agent/proxmox-token";
const CONFIG = "etc/felhom-agent/agent.json";
const USER = "felhom-agent@pve";

let host: Host | undefined;
afterEach(async () => {
  await host?.cleanup();
  host = undefined;
});

async function fresh(): Promise<Host> {
  host = await makeHost();
  return host;
}

const fileMode = async (p: string) => (await stat(p)).mode & 0o7777;
const config = async (h: Host) => JSON.parse(await readFile(join(h.root, CONFIG), "utf8"));

describe("felhom-agent setup on a fresh host", () => {
  test("creates role, user, token, ACLs, token file, pin and config, runs the selftest, starts the service (tools on PATH)", async () => {
    const h = await fresh();
    const r = await h.setup([], { onPath: true });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = await h.state();

    expect([...(s.roles[AGENT_ROLE] ?? [])].sort()).toEqual([...REQUIRED_PRIVILEGES].sort());
    expect(Object.keys(s.users)).toContain(USER);
    expect(Object.keys(s.users[USER]?.tokens ?? {})).toEqual(["agent"]);
    expect(s.users[USER]?.tokens.agent?.privsep).toBe(1);
    expect(s.acl).toEqual(
      expect.arrayContaining([
        { path: "/", type: "user", ugid: USER, roleid: AGENT_ROLE, propagate: 1 },
        { path: "/", type: "token", ugid: `${USER}!agent`, roleid: AGENT_ROLE, propagate: 1 },
      ]),
    );

    const tokenPath = join(h.root, TOKEN_FILE);
    const secret = s.secrets[`${USER}!agent`] as string;
    expect(await readFile(tokenPath, "utf8")).toBe(`${USER}!agent=${secret}\n`);
    expect((await fileMode(tokenPath)).toString(8)).toBe("600");
    if (isRoot) {
      const st = await stat(tokenPath);
      expect([st.uid, st.gid]).toEqual([SERVICE_UID, SERVICE_GID]);
      const cst = await stat(join(h.root, CONFIG));
      expect([cst.uid, cst.gid, cst.mode & 0o777]).toEqual([0, SERVICE_GID, 0o640]);
    }

    const cfg = await config(h);
    expect(cfg.proxmox).toEqual({
      endpoint: h.proxy.url,
      node: NODE,
      token_file: "/etc/felhom-agent/proxmox-token",
      tls: { fingerprint: h.proxy.fingerprint },
    });
    expect(cfg.state_dir).toBe("/var/lib/felhom-agent");
    expect(s.service).toEqual({ enabled: true, active: true });

    // The secret is in the token file and nowhere else: not printed, not in any argv.
    const calls = await h.calls();
    expect(JSON.stringify(calls)).not.toContain(secret);
    expect(r.stdout).not.toContain(secret);
    const runuser = calls.filter((c) => c.tool === "runuser");
    expect(runuser.map((c) => c.args)).toEqual([
      [
        "-u",
        "felhom-agent",
        "--",
        join(h.root, "usr/local/bin/felhom-agent"),
        "--config",
        join(h.root, CONFIG),
        "--selftest",
      ],
    ]);
    // The selftest ran before the service was started.
    const order = calls.map((c) => `${c.tool} ${c.args[0]}`);
    expect(order.indexOf("runuser -u")).toBeLessThan(order.indexOf("systemctl start"));
    expect(r.stdout).toContain(`created    role ${AGENT_ROLE} (16 privileges)`);
    expect(r.stdout).toContain(
      `created    token ${USER}!agent (privilege-separated; no token file yet)`,
    );
    expect(r.stdout).toContain("felhom-agent setup: done, ");
  });

  test("the written config loads with the agent's own loader, token and pin included", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    const { loadConfig } = await import("../../src/daemon/agent-config.ts");
    // The token file path is the host's; below the test root it is reached through the env override.
    const cfg = await loadConfig({
      path: join(h.root, CONFIG),
      pathExplicit: true,
      env: { FELHOM_AGENT_PROXMOX_TOKEN_FILE: join(h.root, TOKEN_FILE) },
    });
    expect(cfg.proxmox.tls).toEqual({ kind: "fingerprint", sha256: h.proxy.fingerprint });
    expect(cfg.proxmox.token.id).toBe(`${USER}!agent`);
    expect(cfg.proxmox.token.secret).toBe((await h.state()).secrets[`${USER}!agent`] as string);
    expect(cfg.proxmox.node).toBe(NODE);
  });

  test("a second run changes nothing and says so", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    const before = await h.state();
    const tokenBefore = await readFile(join(h.root, TOKEN_FILE), "utf8");
    const configBefore = await readFile(join(h.root, CONFIG), "utf8");
    await h.clearCalls();

    const r = await h.setup(["--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.changes).toEqual([]);
    expect(out.ok).toBe(true);
    expect(out.token_id).toBe(`${USER}!agent`);
    expect(out.fingerprint).toBe(h.proxy.fingerprint);
    expect(r.stderr).toContain("everything was already in place; nothing changed.");
    expect(pveumWrites(await h.calls())).toEqual([]);
    expect((await h.calls()).filter((c) => c.tool === "systemctl").map((c) => c.args[0])).toEqual([
      "is-enabled",
      "is-active",
    ]);
    expect(await h.state()).toEqual(before);
    expect(await readFile(join(h.root, TOKEN_FILE), "utf8")).toBe(tokenBefore);
    expect(await readFile(join(h.root, CONFIG), "utf8")).toBe(configBefore);
  });

  test("keeps what the operator has in agent.json and drops an inline token that would override the file", async () => {
    const h = await fresh();
    await writeFile(
      join(h.root, CONFIG),
      JSON.stringify({
        proxmox: {
          endpoint: "https://127.0.0.1:8006",
          node: "x",
          token: "a@pve!b=c",
          timeout_ms: 5000,
        },
        hub: { url: "https://hub.example" },
        log: { level: "debug" },
      }),
    );
    const r = await h.setup();
    expect(r.code).toBe(0);
    const cfg = await config(h);
    expect(cfg.proxmox.token).toBeUndefined();
    expect(cfg.proxmox.timeout_ms).toBe(5000);
    expect(cfg.hub).toEqual({ url: "https://hub.example" });
    expect(cfg.log).toEqual({ level: "debug" });
  });

  test("warns about an agent.env entry that would override what setup wrote", async () => {
    const h = await fresh();
    await writeFile(
      join(h.root, "etc/felhom-agent/agent.env"),
      "FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT=AA\n# FELHOM_AGENT_PROXMOX_NODE=x\n",
    );
    const r = await h.setup();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "warning    /etc/felhom-agent/agent.env sets FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT, which overrides",
    );
    expect(r.stdout).not.toContain("FELHOM_AGENT_PROXMOX_NODE");
  });
});

describe("re-run repairs drift", () => {
  test("a pin written as bare lower-case hex is the same pin, not a changed certificate", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    const cfg = await config(h);
    cfg.proxmox.tls.fingerprint = cfg.proxmox.tls.fingerprint.replaceAll(":", "").toLowerCase();
    await writeFile(join(h.root, CONFIG), JSON.stringify(cfg));
    const r = await h.setup();
    expect(r.code).toBe(0);
    expect((await config(h)).proxmox.tls.fingerprint).toBe(h.proxy.fingerprint);
  });

  test("a missing token ACL, a token file with the wrong mode and a role with the wrong privileges are repaired and named", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    await h.setState((s) => {
      s.acl = s.acl.filter((a) => a.type !== "token");
      s.roles[AGENT_ROLE] = [...REQUIRED_PRIVILEGES.filter((p) => p !== "SDN.Use"), "Sys.Modify"];
    });
    await chmod(join(h.root, TOKEN_FILE), 0o644);

    const r = await h.setup();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`added      acl / token ${USER}!agent role ${AGENT_ROLE}`);
    expect(r.stdout).toContain("repaired   /etc/felhom-agent/proxmox-token: mode 644 → 600");
    expect(r.stdout).toContain(`repaired   role ${AGENT_ROLE}: added SDN.Use; removed Sys.Modify`);
    expect(r.stdout).toContain("done, 3 change(s)");
    expect((await fileMode(join(h.root, TOKEN_FILE))).toString(8)).toBe("600");
    const s = await h.state();
    expect([...(s.roles[AGENT_ROLE] ?? [])].sort()).toEqual([...REQUIRED_PRIVILEGES].sort());
    expect(s.acl.some((a) => a.type === "token" && a.ugid === `${USER}!agent`)).toBe(true);
    // The token itself was kept: same secret.
    expect(Object.keys(s.users[USER]?.tokens ?? {})).toEqual(["agent"]);
    // Nothing the daemon reads changed content, so no restart.
    expect((await h.calls()).some((c) => c.tool === "systemctl" && c.args[0] === "restart")).toBe(
      false,
    );

    expect((await h.setup()).stdout).toContain("nothing changed");
  });

  test("a lost token file: a new token is made, the orphaned one revoked", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    await writeFile(join(h.root, TOKEN_FILE), "garbage\n");
    const r = await h.setup();
    expect(r.code).toBe(0);
    const s = await h.state();
    const ids = Object.keys(s.users[USER]?.tokens ?? {});
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^agent-[0-9a-f]{6}$/);
    expect(r.stdout).toContain("the token file names no token of this user");
    expect(r.stdout).toContain(`revoked    token ${USER}!agent`);
    expect(s.acl.some((a) => a.ugid === `${USER}!agent`)).toBe(false);
  });
});

describe("--rotate-token", () => {
  test("makes a new token, restarts the service on it, then revokes the old one", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    const oldSecret = (await h.state()).secrets[`${USER}!agent`] as string;
    await h.clearCalls();

    const r = await h.setup(["--rotate-token"], { onPath: true });
    expect(r.code).toBe(0);
    const s = await h.state();
    const ids = Object.keys(s.users[USER]?.tokens ?? {});
    expect(ids).toHaveLength(1);
    const id = `${USER}!${ids[0]}`;
    expect(id).not.toBe(`${USER}!agent`);
    const text = await readFile(join(h.root, TOKEN_FILE), "utf8");
    expect(text).toBe(`${id}=${s.secrets[id]}\n`);
    expect(text).not.toContain(oldSecret);
    expect(s.acl.filter((a) => a.type === "token").map((a) => a.ugid)).toEqual([id]);
    expect(r.stdout).toContain("(privilege-separated; rotated)");
    expect(r.stdout).toContain(`revoked    token ${USER}!agent`);
    const seq = (await h.calls()).map((c) => `${c.tool} ${c.args.slice(0, 3).join(" ")}`);
    expect(seq.indexOf("systemctl restart felhom-agent.service")).toBeGreaterThan(-1);
    expect(seq.indexOf("systemctl restart felhom-agent.service")).toBeLessThan(
      seq.indexOf("pveum user token remove"),
    );
    // A second rotation goes back to the free name.
    expect((await h.setup(["--rotate-token"])).code).toBe(0);
    expect(Object.keys((await h.state()).users[USER]?.tokens ?? {})).toEqual(["agent"]);
  });
});

describe("the pin", () => {
  test("a renewed certificate is refused without --repin (nothing changes) and followed with it", async () => {
    const h = await fresh();
    expect((await h.setup()).code).toBe(0);
    const oldPin = (await config(h)).proxmox.tls.fingerprint;
    const renewed = await h.renewCertificate();
    await h.clearCalls();
    const before = await h.state();
    const cfgBefore = await readFile(join(h.root, CONFIG), "utf8");

    const refused = await h.setup();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "felhom-agent: setup: Proxmox certificate changed; run `felhom-agent setup --repin` as root",
    );
    expect(refused.stderr).toContain(`pinned ${oldPin}`);
    expect(pveumWrites(await h.calls())).toEqual([]);
    expect(await h.state()).toEqual(before);
    expect(await readFile(join(h.root, CONFIG), "utf8")).toBe(cfgBefore);

    const r = await h.setup(["--repin"]);
    expect(r.code).toBe(0);
    expect((await config(h)).proxmox.tls.fingerprint).toBe(renewed);
    expect(r.stdout).toContain(`re-pinned ${oldPin} → ${renewed}`);
    expect(r.stdout).toContain("pveproxy-ssl.pem");
    expect(r.stdout).toContain("restarted  felhom-agent.service");
  });

  test("an endpoint presenting another certificate than the node's file is refused before any change", async () => {
    const h = await fresh();
    // The file changes but the proxy keeps presenting the old certificate (pveproxy not reloaded).
    const { writeFile: wf } = await import("node:fs/promises");
    const other = await (await import("./support.ts")).newCert();
    await wf(join(h.nodeDir, "pveproxy-ssl.pem"), other.cert);
    const r = await h.setup();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("systemctl reload pveproxy");
    expect(r.stderr).toContain("nothing was changed");
    expect(pveumWrites(await h.calls())).toEqual([]);
  });
});

describe("refusals and failures", () => {
  test("not root and no --root: refused with what to do", async () => {
    const { runSetup } = await import("../../src/cli/setup.ts");
    let err = "";
    const code = await runSetup([], {
      env: {},
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
      deps: { euid: 1000 },
    });
    expect(code).toBe(2);
    expect(err).toBe(
      "felhom-agent: setup: must run as root (it creates the Proxmox token and writes /etc/felhom-agent); run it with sudo or as root\n",
    );
  });

  test("a failing selftest stops before the service is started", async () => {
    const h = await fresh();
    await h.setState((s) => {
      s.selftestExit = 1;
    });
    const r = await h.setup();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the selftest as felhom-agent failed (exit 1");
    expect((await h.state()).service).toEqual({ enabled: false, active: false });
  });

  test("--enroll needs --hub; --help shows an example", async () => {
    const h = await fresh();
    await expect(h.setup(["--enroll", "ABCDEF12"])).rejects.toThrow(
      "--enroll CODE and --hub URL go together",
    );
    expect((await h.setup(["--help"])).stdout).toContain("Example:\n  felhom-agent setup --enroll");
  });

  test("--enroll runs the enrollment as the service user after everything else", async () => {
    const h = await fresh();
    const r = await h.setup([
      "--enroll",
      "ABCDEF12",
      "--hub",
      "https://hub.example.net",
      "--accept-signers",
      "SHA256:x",
    ]);
    expect(r.code).toBe(0);
    const last = (await h.calls()).at(-1);
    expect(last?.tool).toBe("runuser");
    expect(last?.args.slice(0, 2)).toEqual(["-u", "felhom-agent"]);
    expect(last?.args.slice(-7)).toEqual([
      "enroll",
      "--hub",
      "https://hub.example.net",
      "--code",
      "ABCDEF12",
      "--accept-signers",
      "SHA256:x",
    ]);
    expect(r.stdout).toContain("enrolled   with https://hub.example.net");
  });

  test("an existing hub identity is kept: a re-run of the one-line install does not enroll again", async () => {
    const h = await fresh();
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(h.root, "var/lib/felhom-agent"), { recursive: true });
    await writeFile(join(h.root, "var/lib/felhom-agent/hub-identity.json"), "{}");
    const r = await h.setup(["--enroll", "ABCDEF12", "--hub", "https://hub.example.net"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "unchanged  enrolled (/var/lib/felhom-agent/hub-identity.json exists",
    );
    expect((await h.calls()).some((c) => c.args.includes("enroll"))).toBe(false);
  });
});

describe("preconditions", () => {
  test("an agent.json that is not JSON is named, and nothing is changed", async () => {
    const h = await fresh();
    await writeFile(join(h.root, CONFIG), "{ not json");
    const r = await h.setup();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `felhom-agent: setup: ${join(h.root, CONFIG)} is not valid JSON; fix or remove it, then run setup again\n`,
    );
    expect(pveumWrites(await h.calls())).toEqual([]);
  });

  test("off a Proxmox host (no pvenode on PATH) it says so", async () => {
    const h = await fresh();
    const r = await h.setup([], { onPath: true, path: "/nonexistent" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "felhom-agent: setup: pvenode is not on PATH; setup runs on a Proxmox VE host (pveum, pvenode, systemctl, runuser)\n",
    );
  });

  test("without the installer's files setup stops before calling any tool", async () => {
    const h = await fresh();
    const { rm } = await import("node:fs/promises");
    await rm(join(h.root, "usr/local/bin/felhom-agent"));
    const r = await h.setup();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "felhom-agent: setup: /usr/local/bin/felhom-agent does not exist; run install.sh first\n",
    );
    expect(await h.calls()).toEqual([]);
  });
});
