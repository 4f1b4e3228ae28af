import { X509Certificate } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runSetup } from "../../src/cli/setup.ts";
import type { SetupRunner } from "../../src/setup/runner.ts";
import { sha256Fingerprint } from "../../src/tls/fingerprint.ts";
import { createSelfSignedCert } from "../../src/tls/self-signed.ts";
import { type FakeEnv, type FakeState, handle, initialState } from "./fake-host-tools.ts";

/**
 * The same fakes called in this process: the same state, answers and call log as the tools on
 * PATH, without starting a process per call. Most tests use it; the ones marked `onPath` run
 * the real spawning runner against the fake executables.
 */
function inProcessRunner(env: FakeEnv): SetupRunner {
  return {
    run: async (tool, args) => {
      const r = handle(tool, args, env);
      return { code: r.code, stdout: r.out, stderr: r.err };
    },
    interactive: async (tool, args) => handle(tool, args, env).code,
  };
}

const FAKE = resolve(import.meta.dir, "fake-host-tools.ts");
export const NODE = "pve1";
export const SERVICE_UID = 990;
export const SERVICE_GID = 991;
export const isRoot = process.geteuid?.() === 0;

export interface Call {
  tool: string;
  args: string[];
}

export interface TlsEndpoint {
  url: string;
  fingerprint: string;
  stop(): void;
}

/** A loopback TLS server presenting `pem`, as pveproxy presents the node's certificate. */
export function serveTls(cert: { cert: string; key: string }): TlsEndpoint {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: cert.cert, key: cert.key },
    fetch: () => new Response("not for setup", { status: 401 }),
  });
  return {
    url: `https://127.0.0.1:${server.port}`,
    fingerprint: sha256Fingerprint(new X509Certificate(cert.cert).raw),
    stop: () => server.stop(true),
  };
}

export const newCert = () => createSelfSignedCert({ commonName: NODE, altNames: ["127.0.0.1"] });

/**
 * A host below a temporary root: /etc/passwd and /etc/group with the service user, the node's
 * pve-ssl.pem, the fake tools on PATH, and pveproxy (a loopback TLS server) presenting it.
 */
export async function makeHost() {
  const base = await mkdtemp(join(tmpdir(), "felhom-setup-"));
  const root = join(base, "root");
  const bin = join(base, "bin");
  const nodeDir = join(root, "etc/pve/nodes", NODE);
  await mkdir(nodeDir, { recursive: true });
  await mkdir(join(root, "etc/felhom-agent"), { recursive: true });
  await mkdir(bin);
  // What install.sh puts in place before setup runs; the fake runuser never executes it.
  await mkdir(join(root, "usr/local/bin"), { recursive: true });
  await writeFile(join(root, "usr/local/bin/felhom-agent"), "#!/bin/sh\nexit 0\n");
  await writeFile(join(root, "etc/hostname"), `${NODE}.example.net\n`);
  await writeFile(
    join(root, "etc/passwd"),
    `root:x:0:0::/root:/bin/sh\nfelhom-agent:x:${SERVICE_UID}:${SERVICE_GID}::/nonexistent:/usr/sbin/nologin\n`,
  );
  await writeFile(join(root, "etc/group"), `root:x:0:\nfelhom-agent:x:${SERVICE_GID}:\n`);
  const cert = await newCert();
  await writeFile(join(nodeDir, "pve-ssl.pem"), cert.cert);
  let proxy = serveTls(cert);
  for (const tool of ["pveum", "pvenode", "systemctl", "runuser"]) {
    await writeFile(
      join(bin, tool),
      `#!/bin/sh\nexec '${process.execPath}' '${FAKE}' ${tool} "$@"\n`,
    );
    await chmod(join(bin, tool), 0o755);
  }
  const statePath = join(base, "state.json");
  const callsPath = join(base, "calls.jsonl");
  await writeFile(statePath, JSON.stringify(initialState()));
  await writeFile(callsPath, "");
  const env = {
    PATH: `${bin}:/usr/bin:/bin`,
    FAKE_STATE: statePath,
    FAKE_CALLS: callsPath,
    FAKE_ROOT: root,
    FAKE_NODE: NODE,
  };
  return {
    base,
    root,
    nodeDir,
    get proxy() {
      return proxy;
    },
    /** Serves a new certificate: written to the node's directory, presented by the proxy. */
    async renewCertificate(file = "pveproxy-ssl.pem") {
      const c = await newCert();
      await writeFile(join(nodeDir, file), c.cert);
      proxy.stop();
      proxy = serveTls(c);
      return proxy.fingerprint;
    },
    async state(): Promise<FakeState> {
      return JSON.parse(await readFile(statePath, "utf8"));
    },
    async setState(change: (s: FakeState) => void) {
      const s = await this.state();
      change(s);
      await writeFile(statePath, JSON.stringify(s));
    },
    async calls(): Promise<Call[]> {
      return (await readFile(callsPath, "utf8"))
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l));
    },
    async clearCalls() {
      await writeFile(callsPath, "");
    },
    /** Runs `felhom-agent setup --root ROOT --endpoint PROXY ARGS…` in this process. */
    async setup(
      args: string[] = [],
      deps: { euid?: number; onPath?: boolean; path?: string } = {},
    ) {
      let stdout = "";
      let stderr = "";
      const code = await runSetup(["--root", root, "--endpoint", proxy.url, ...args], {
        env: deps.path === undefined ? env : { ...env, PATH: deps.path },
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
        deps: {
          ...(deps.euid !== undefined ? { euid: deps.euid } : {}),
          ...(deps.onPath ? {} : { runner: inProcessRunner(env) }),
        },
      });
      return { code, stdout, stderr };
    },
    async cleanup() {
      proxy.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

export type Host = Awaited<ReturnType<typeof makeHost>>;

/** pveum calls that change something (everything but the listings). */
export function pveumWrites(calls: Call[]): string[] {
  return calls
    .filter(
      (c) =>
        c.tool === "pveum" &&
        c.args[1] !== "list" &&
        !(c.args[1] === "token" && c.args[2] === "list"),
    )
    .map((c) => c.args.join(" "));
}
