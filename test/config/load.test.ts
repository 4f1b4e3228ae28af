import { describe, expect, test } from "bun:test";
import { ConfigError, type ConfigWarning } from "../../src/config/errors.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import {
  agentSections,
  loadConfig,
  redactConfig,
  secretsOf,
} from "../../src/daemon/agent-config.ts";
import { memoryFs } from "./memory-fs.ts";

const SECRET = "0f1e2d3c-4b5a-6978-8a9b-cdef01234567";
const TOKEN = `felhom-agent@pve!agent=${SECRET}`;
const FP =
  "BA:7C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:CF";
const PATH = "/etc/felhom-agent/agent.json";

function fileConfig(over: Record<string, unknown> = {}, proxmox: Record<string, unknown> = {}) {
  return JSON.stringify({
    proxmox: {
      endpoint: "https://192.0.2.10:8006",
      node: "pve1",
      token_file: "/etc/felhom-agent/token",
      tls: { fingerprint: FP },
      ...proxmox,
    },
    ...over,
  });
}

async function expectConfigError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

const tokenFile = { text: `${TOKEN}\n`, mode: 0o600 };

describe("loadConfig from a file", () => {
  test("resolves a full file with defaults", async () => {
    const fs = memoryFs({ [PATH]: { text: fileConfig() }, "/etc/felhom-agent/token": tokenFile });
    const cfg = await loadConfig({ env: {}, fs });
    expect(cfg.proxmox.endpoint).toBe("https://192.0.2.10:8006");
    expect(cfg.proxmox.node).toBe("pve1");
    expect(cfg.proxmox.token.id).toBe("felhom-agent@pve!agent");
    expect(cfg.proxmox.token.secret).toBe(SECRET);
    expect(cfg.proxmox.token.from).toBe("token_file");
    expect(cfg.proxmox.tls).toEqual({ kind: "fingerprint", sha256: FP });
    expect(cfg.proxmox.timeout_ms).toBe(30000);
    expect(cfg.privileged).toEqual({ mode: "sudo", sudo_path: "/usr/bin/sudo" });
    expect(cfg.state_dir).toBe("/var/lib/felhom-agent");
    expect(cfg.log.level).toBe("info");
  });

  test("the secret is not enumerable: JSON of the config does not carry it", async () => {
    const fs = memoryFs({ [PATH]: { text: fileConfig() }, "/etc/felhom-agent/token": tokenFile });
    const cfg = await loadConfig({ env: {}, fs });
    expect(JSON.stringify(cfg)).not.toContain(SECRET);
    expect(JSON.stringify({ ...cfg.proxmox.token })).not.toContain(SECRET);
  });

  test("bare-hex fingerprint is normalised", async () => {
    const bare = FP.replaceAll(":", "").toLowerCase();
    const fs = memoryFs({
      [PATH]: { text: fileConfig({}, { tls: { fingerprint: bare } }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    const cfg = await loadConfig({ env: {}, fs });
    expect(cfg.proxmox.tls).toEqual({ kind: "fingerprint", sha256: FP });
  });

  test("an unknown key is named with its path and a suggestion", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig({}, { tls: { fingerprnt: FP } }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    const err = await expectConfigError(loadConfig({ env: {}, fs }));
    expect(err.key).toBe("proxmox.tls.fingerprnt");
    expect(err.source).toBe("file");
    expect(err.message).toStartWith(
      "proxmox.tls.fingerprnt: unknown key; did you mean fingerprint?",
    );
    expect(err.message).toContain(PATH);
  });

  test("an unknown top-level key is an error", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig({ hubb: {} }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    const err = await expectConfigError(loadConfig({ env: {}, fs }));
    expect(err.key).toBe("hubb");
    expect(err.message).toContain("unknown key");
  });

  test("wrong types and enums name the key", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig({ log: { level: "loud" } }, { timeout_ms: "30s" }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    const err = await expectConfigError(loadConfig({ env: {}, fs }));
    const keys = err.issues.map((i) => i.key).sort();
    expect(keys).toEqual(["log.level", "proxmox.timeout_ms"]);
    expect(err.message).toContain("proxmox.timeout_ms: must be a number, got string");
    expect(err.message).toContain('log.level: must be one of "debug", "info", "warn", "error"');
  });

  test("a missing required key names the env alternative", async () => {
    const text = JSON.stringify({
      proxmox: { node: "pve1", token_file: "/t", tls: { fingerprint: FP } },
    });
    const err = await expectConfigError(
      loadConfig({ env: {}, fs: memoryFs({ [PATH]: { text } }) }),
    );
    expect(err.key).toBe("proxmox.endpoint");
    expect(err.message).toContain(
      "is required (in the file, or set FELHOM_AGENT_PROXMOX_ENDPOINT)",
    );
  });

  test("invalid JSON does not echo the file", async () => {
    const text = `{"proxmox": {"token": ${TOKEN}}}`;
    const err = await expectConfigError(
      loadConfig({ env: {}, fs: memoryFs({ [PATH]: { text } }) }),
    );
    expect(err.key).toBe(PATH);
    expect(err.message).toContain("not valid JSON");
    expect(err.message).not.toContain(SECRET);
  });

  test("a JSON array is refused", async () => {
    const err = await expectConfigError(
      loadConfig({ env: {}, fs: memoryFs({ [PATH]: { text: "[]" } }) }),
    );
    expect(err.message).toContain("must hold a JSON object");
  });
});

describe("TLS trust", () => {
  const load = (tls: unknown, extraFiles = {}) =>
    loadConfig({
      env: {},
      fs: memoryFs({
        [PATH]: { text: fileConfig({}, { tls }) },
        "/etc/felhom-agent/token": tokenFile,
        ...extraFiles,
      }),
    });

  test("none given explains the three options and how to read the fingerprint", async () => {
    const err = await expectConfigError(load({}));
    expect(err.key).toBe("proxmox.tls");
    for (const word of [
      "fingerprint",
      "ca_file",
      "insecure_skip_verify",
      "pvenode cert info",
      "ssl_fingerprint",
    ]) {
      expect(err.message).toContain(word);
    }
  });

  test("two modes are refused", async () => {
    const err = await expectConfigError(load({ fingerprint: FP, insecure_skip_verify: true }));
    expect(err.message).toContain("more than one trust mode");
    expect(err.message).toContain("proxmox.tls.fingerprint");
    expect(err.message).toContain("proxmox.tls.insecure_skip_verify");
  });

  test("insecure_skip_verify=false alone is no trust", async () => {
    const err = await expectConfigError(load({ insecure_skip_verify: false }));
    expect(err.message).toContain("no TLS trust configured");
  });

  test("insecure is allowed but warns", async () => {
    const warnings: ConfigWarning[] = [];
    const cfg = await loadConfig({
      env: {},
      onWarning: (w) => warnings.push(w),
      fs: memoryFs({
        [PATH]: { text: fileConfig({}, { tls: { insecure_skip_verify: true } }) },
        "/etc/felhom-agent/token": tokenFile,
      }),
    });
    expect(cfg.proxmox.tls).toEqual({ kind: "insecure" });
    expect(warnings.map((w) => w.key)).toEqual(["proxmox.tls.insecure_skip_verify"]);
  });

  test("bad fingerprint names the key", async () => {
    const err = await expectConfigError(load({ fingerprint: "AA:BB" }));
    expect(err.key).toBe("proxmox.tls.fingerprint");
    expect(err.message).toContain("not a SHA-256 fingerprint");
  });

  test("ca_file is read and must hold a certificate", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const cfg = await load(
      { ca_file: "/etc/ca.pem" },
      { "/etc/ca.pem": { text: pem, mode: 0o644 } },
    );
    expect(cfg.proxmox.tls).toEqual({ kind: "ca", caFile: "/etc/ca.pem", caPem: pem });
    const bad = await expectConfigError(
      load({ ca_file: "/etc/ca.pem" }, { "/etc/ca.pem": { text: "x" } }),
    );
    expect(bad.key).toBe("proxmox.tls.ca_file");
    const missing = await expectConfigError(load({ ca_file: "/etc/none.pem" }));
    expect(missing.message).toContain("/etc/none.pem does not exist");
  });
});

describe("token", () => {
  test("token XOR token_file", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig({}, { token: TOKEN }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    const err = await expectConfigError(loadConfig({ env: {}, fs }));
    expect(err.key).toBe("proxmox");
    expect(err.message).toContain("both proxmox.token and proxmox.token_file");
    expect(err.message).not.toContain(SECRET);
  });

  test("neither is an error that says how", async () => {
    const text = JSON.stringify({
      proxmox: { endpoint: "https://h:8006", node: "pve1", tls: { fingerprint: FP } },
    });
    const err = await expectConfigError(
      loadConfig({ env: {}, fs: memoryFs({ [PATH]: { text } }) }),
    );
    expect(err.message).toContain("no API token");
    expect(err.message).toContain("FELHOM_AGENT_PROXMOX_TOKEN");
  });

  for (const bad of [
    SECRET,
    `felhom-agent@pve=${SECRET}`,
    `felhom-agent!agent=${SECRET}`,
    `felhom-agent@pve!-x=${SECRET}`,
    `felhom-agent@pve!agent=`,
    `felhom-agent@pve!agent=${SECRET} extra`,
  ]) {
    test(`malformed token is refused without echoing it: ${bad.length}`, async () => {
      const fs = memoryFs({
        [PATH]: { text: fileConfig({}, { token: bad, token_file: undefined }) },
      });
      const err = await expectConfigError(loadConfig({ env: {}, fs }));
      expect(err.key).toBe("proxmox.token");
      expect(err.message).not.toContain(SECRET);
      expect(err.message).toContain("USER@REALM!TOKENID=SECRET");
    });
  }

  test("a world-readable token file is refused with the fix", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig() },
      "/etc/felhom-agent/token": { text: TOKEN, mode: 0o644 },
    });
    const err = await expectConfigError(loadConfig({ env: {}, fs }));
    expect(err.key).toBe("proxmox.token_file");
    expect(err.message).toContain("mode 0644");
    expect(err.message).toContain("chmod 600 /etc/felhom-agent/token");
  });

  test("a group-readable token file warns", async () => {
    const warnings: ConfigWarning[] = [];
    const fs = memoryFs({
      [PATH]: { text: fileConfig() },
      "/etc/felhom-agent/token": { text: TOKEN, mode: 0o640 },
    });
    await loadConfig({ env: {}, fs, onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain("chmod 600");
  });

  test("token file problems", async () => {
    const base = { [PATH]: { text: fileConfig() } };
    const missing = await expectConfigError(loadConfig({ env: {}, fs: memoryFs(base) }));
    expect(missing.message).toContain("/etc/felhom-agent/token does not exist");
    const dir = await expectConfigError(
      loadConfig({
        env: {},
        fs: memoryFs({ ...base, "/etc/felhom-agent/token": { text: "", dir: true } }),
      }),
    );
    expect(dir.message).toContain("not a regular file");
    const garbage = await expectConfigError(
      loadConfig({
        env: {},
        fs: memoryFs({ ...base, "/etc/felhom-agent/token": { text: SECRET } }),
      }),
    );
    expect(garbage.message).toContain("the content of /etc/felhom-agent/token");
    expect(garbage.message).not.toContain(SECRET);
  });
});

describe("endpoint", () => {
  for (const [endpoint, words] of [
    ["http://h:8006", "https://"],
    ["not a url", "not a URL"],
    ["https://root:pw@h:8006", "credentials"],
    ["https://h:8006/api2/json", "HOST:PORT"],
  ] as const) {
    test(`${endpoint} is refused`, async () => {
      const fs = memoryFs({
        [PATH]: { text: fileConfig({}, { endpoint }) },
        "/etc/felhom-agent/token": tokenFile,
      });
      const err = await expectConfigError(loadConfig({ env: {}, fs }));
      expect(err.key).toBe("proxmox.endpoint");
      expect(err.message).toContain(words);
      expect(err.message).not.toContain("pw");
    });
  }

  test("trailing slash is accepted and dropped", async () => {
    const fs = memoryFs({
      [PATH]: { text: fileConfig({}, { endpoint: "https://pve.example:8006/" }) },
      "/etc/felhom-agent/token": tokenFile,
    });
    expect((await loadConfig({ env: {}, fs })).proxmox.endpoint).toBe("https://pve.example:8006");
  });
});

describe("env", () => {
  const env = {
    FELHOM_AGENT_PROXMOX_TOKEN: TOKEN,
    FELHOM_AGENT_PROXMOX_NODE: "demo-felhom",
    FELHOM_AGENT_PROXMOX_ENDPOINT: "https://192.168.0.162:8006",
    FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: FP,
  };

  test("env alone is enough when the default file is absent", async () => {
    const cfg = await loadConfig({ env, fs: memoryFs({}) });
    expect(cfg.proxmox.node).toBe("demo-felhom");
    expect(cfg.proxmox.token.from).toBe("token");
  });

  test("no file and no env says so", async () => {
    const err = await expectConfigError(loadConfig({ env: { PATH: "/bin" }, fs: memoryFs({}) }));
    expect(err.message).toContain(
      `no config file at ${DEFAULT_CONFIG_PATH} and FELHOM_AGENT_PROXMOX_* not set`,
    );
  });

  test("partial env without a file names what is missing and that there is no file", async () => {
    const err = await expectConfigError(
      loadConfig({ env: { FELHOM_AGENT_PROXMOX_TOKEN: TOKEN }, fs: memoryFs({}) }),
    );
    expect(err.message).toContain(
      `proxmox.endpoint: is required (no config file at ${DEFAULT_CONFIG_PATH}; set FELHOM_AGENT_PROXMOX_ENDPOINT)`,
    );
    expect(err.message).toContain("proxmox.node: is required");
    expect(err.message).not.toContain(SECRET);
  });

  test("an explicit path that does not exist is an error even with env", async () => {
    const err = await expectConfigError(
      loadConfig({ env, path: "/tmp/none.json", pathExplicit: true, fs: memoryFs({}) }),
    );
    expect(err.key).toBe("/tmp/none.json");
    expect(err.message).toContain("config file does not exist");
  });

  test("env overrides file values; the token replaces the file's token_file", async () => {
    const fs = memoryFs({ [PATH]: { text: fileConfig({ log: { level: "warn" } }) } });
    const cfg = await loadConfig({
      env: { ...env, FELHOM_AGENT_LOG_LEVEL: "debug", FELHOM_AGENT_PROXMOX_TIMEOUT_MS: "5000" },
      fs,
    });
    expect(cfg.proxmox.node).toBe("demo-felhom");
    expect(cfg.proxmox.token.from).toBe("token");
    expect(cfg.proxmox.token_file).toBeUndefined();
    expect(cfg.log.level).toBe("debug");
    expect(cfg.proxmox.timeout_ms).toBe(5000);
  });

  test("env switching TLS mode drops the file's mode", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    const fs = memoryFs({
      [PATH]: { text: fileConfig() },
      "/etc/felhom-agent/token": tokenFile,
      "/ca.pem": { text: pem },
    });
    const cfg = await loadConfig({ env: { FELHOM_AGENT_PROXMOX_CA_FILE: "/ca.pem" }, fs });
    expect(cfg.proxmox.tls.kind).toBe("ca");
  });

  test("two env trust modes conflict and are named by env var", async () => {
    const err = await expectConfigError(
      loadConfig({
        env: { ...env, FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY: "1" },
        fs: memoryFs({}),
      }),
    );
    expect(err.message).toContain("FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT");
    expect(err.message).toContain("FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY");
  });

  test("errors in env values name the variable", async () => {
    const cases: [Record<string, string>, string, string][] = [
      [
        { FELHOM_AGENT_PROXMOX_TIMEOUT_MS: "30s" },
        "FELHOM_AGENT_PROXMOX_TIMEOUT_MS",
        "not an integer",
      ],
      [
        { FELHOM_AGENT_PROXMOX_TIMEOUT_MS: "5" },
        "FELHOM_AGENT_PROXMOX_TIMEOUT_MS",
        "at least 1000",
      ],
      [
        { FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY: "yes" },
        "FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY",
        "not a boolean",
      ],
      [{ FELHOM_AGENT_PRIVILEGED_MODE: "root" }, "FELHOM_AGENT_PRIVILEGED_MODE", "must be one of"],
      [{ FELHOM_AGENT_PROXMOX_NODE: "" }, "FELHOM_AGENT_PROXMOX_NODE", "empty"],
      [{ FELHOM_AGENT_PROXMOX_NODE: "bad node" }, "FELHOM_AGENT_PROXMOX_NODE", "not a node name"],
      [{ FELHOM_AGENT_PROXMOX_TOKEN: SECRET }, "FELHOM_AGENT_PROXMOX_TOKEN", "USER@REALM"],
      [{ FELHOM_AGENT_STATE_DIR: "var/lib" }, "FELHOM_AGENT_STATE_DIR", "absolute"],
    ];
    for (const [extra, key, words] of cases) {
      const err = await expectConfigError(
        loadConfig({ env: { ...env, ...extra }, fs: memoryFs({}) }),
      );
      expect(err.key).toBe(key);
      expect(err.source).toBe("env");
      expect(err.message).toContain(words);
      expect(err.message).not.toContain(SECRET);
    }
  });

  test("an unknown FELHOM_AGENT_ variable is an error naming it", async () => {
    const err = await expectConfigError(
      loadConfig({ env: { ...env, FELHOM_AGENT_PROXMOX_TLS_CA_FILE: "/x" }, fs: memoryFs({}) }),
    );
    expect(err.key).toBe("FELHOM_AGENT_PROXMOX_TLS_CA_FILE");
    expect(err.message).toContain("unknown variable; did you mean FELHOM_AGENT_PROXMOX_CA_FILE?");
  });

  test("allowEnv lets other parts of the program own names", async () => {
    const cfg = await loadConfig({
      env: { ...env, FELHOM_AGENT_CONFIG: "/x" },
      allowEnv: ["FELHOM_AGENT_CONFIG"],
      fs: memoryFs({}),
    });
    expect(cfg.proxmox.node).toBe("demo-felhom");
  });
});

describe("redaction helpers", () => {
  test("redactConfig keeps the token id and hides the secret", async () => {
    const fs = memoryFs({ [PATH]: { text: fileConfig() }, "/etc/felhom-agent/token": tokenFile });
    const cfg = await loadConfig({ env: {}, fs });
    const red = redactConfig(cfg);
    // Every section is printed; other sections' defaults are theirs to test.
    expect(Object.keys(red).sort()).toEqual(agentSections.map((s) => s.key).sort());
    expect(red).toMatchObject({
      proxmox: {
        endpoint: "https://192.0.2.10:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=<redacted>",
        token_file: "/etc/felhom-agent/token",
        tls: { fingerprint: FP },
        timeout_ms: 30000,
      },
      privileged: { mode: "sudo", sudo_path: "/usr/bin/sudo" },
      state_dir: "/var/lib/felhom-agent",
      log: { level: "info" },
    });
    expect(JSON.stringify(red)).not.toContain(SECRET);
    expect(secretsOf(cfg)).toEqual([SECRET]);
  });
});
