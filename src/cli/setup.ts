import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { checkHubUrl } from "../hub/config-section.ts";
import { probeLeaf, TlsProbeError } from "../proxmox/tls-probe.ts";
import { configuredEndpoint, readAgentFile } from "../setup/config-file.ts";
import { hostPaths } from "../setup/host-files.ts";
import { SetupError } from "../setup/names.ts";
import { PinError } from "../setup/node-pin.ts";
import { type SetupRunner, spawnRunner, ToolMissingError } from "../setup/runner.ts";
import { runHostSetup, type SetupResult } from "../setup/setup.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./context.ts";
import { parseEndpoint } from "./fingerprint.ts";
import { parseFlags } from "./flags.ts";

const HELP = `Usage: felhom-agent setup [--enroll CODE --hub URL] [--rotate-token] [--repin]
                          [--node NAME] [--endpoint URL] [--root DIR] [--json]

Run as root on the Proxmox host, after install.sh. Sets up everything the agent needs, and on
a re-run repairs what drifted, saying each change:

  - the role FelhomAgent with exactly the privileges the agent needs, the user
    felhom-agent@pve, one privilege-separated API token, and the role on / for both the user
    and the token (PVE grants a token only what both have)
  - the token secret written to /etc/felhom-agent/proxmox-token, mode 0600, owned by the
    service user; it is never printed and never passed on a command line
  - the pin: the fingerprint of the node's own certificate (pveproxy-ssl.pem if present, else
    pve-ssl.pem, in /etc/pve/nodes/NODE/), checked against 'pvenode cert info' and against
    what the API endpoint presents, written to /etc/felhom-agent/agent.json
  - the selftest, run as the service user; then the service enabled and (re)started
  - with --enroll, the enrollment with the hub, showing the signer fingerprints to accept

Options:
  --enroll CODE          enroll with the hub using this one-time code (needs --hub)
  --hub URL              the hub's https:// URL
  --accept-signers FPS   with --enroll: the signer fingerprints to accept without asking
  --rotate-token         make a new token, switch the service to it, revoke the old one
  --repin                follow a renewed Proxmox certificate (a changed certificate is
                         otherwise refused and nothing is changed)
  --node NAME            the Proxmox node name (default: the short host name)
  --endpoint URL         the Proxmox API (default: the configured one, else https://127.0.0.1:8006)
  --root DIR             work below DIR instead of / (image builds, tests); the tools are
                         still taken from PATH
  --json                 progress on stderr, the result as JSON on stdout
  -h, --help             this help

Example:
  felhom-agent setup --enroll 7HQ2-K9XP --hub https://hub.example.net

Exit codes: 0 set up, 1 a step failed (what was done is listed), 2 usage error or not root.
`;

export interface SetupCliContext extends CliContext {
  deps?: {
    euid?: number;
    runner?: SetupRunner;
    presented?: (host: string, port: number) => Promise<string>;
  };
}

const NODE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const CODE = /^[A-Za-z0-9_-]{6,128}$/;
const PROBE_TIMEOUT_MS = 10_000;

const fail = (ctx: CliContext, what: string, todo: string) =>
  ctx.stderr(`felhom-agent: setup: ${what}; ${todo}\n`);

/** `felhom-agent setup`: see HELP. */
export async function runSetup(argv: string[], ctx: SetupCliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    enroll: { type: "string" },
    hub: { type: "string" },
    "accept-signers": { type: "string" },
    "rotate-token": { type: "boolean" },
    repin: { type: "boolean" },
    node: { type: "string" },
    endpoint: { type: "string" },
    root: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  if ((values.enroll === undefined) !== (values.hub === undefined)) {
    throw new UsageError("--enroll CODE and --hub URL go together");
  }
  if (values["accept-signers"] !== undefined && values.enroll === undefined) {
    throw new UsageError("--accept-signers only goes with --enroll");
  }
  if (values.enroll !== undefined && !CODE.test(values.enroll)) {
    throw new UsageError("--enroll must be the code the hub showed (letters, digits, '-' or '_')");
  }
  const hub =
    values.hub === undefined
      ? undefined
      : checkHubUrl(values.hub, (m) => {
          throw new UsageError(`--hub ${m}`);
        });
  const root = values.root ?? "";
  if (root !== "" && (!root.startsWith("/") || root === "/")) {
    throw new UsageError("--root must be an absolute directory other than /");
  }
  if (root !== "" && !(await stat(root).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`--root ${root} is not a directory`);
  }
  const euid = ctx.deps?.euid ?? process.geteuid?.() ?? -1;
  if (euid !== 0 && root === "") {
    fail(
      ctx,
      "must run as root (it creates the Proxmox token and writes /etc/felhom-agent)",
      "run it with sudo or as root",
    );
    return EXIT_USAGE;
  }
  const paths = hostPaths(root.replace(/\/+$/, ""));
  const node = values.node ?? (await defaultNode(paths.at("/etc/hostname"), root !== ""));
  if (node === "")
    throw new UsageError("cannot tell this node's name (no host name); give --node NAME");
  if (!NODE.test(node)) throw new UsageError(`--node '${node}' is not a node name`);

  let endpointText = values.endpoint;
  if (endpointText === undefined) {
    try {
      endpointText = configuredEndpoint(await readAgentFile(paths.at(paths.configFile)));
    } catch (err) {
      // The message already says what to do with the file.
      ctx.stderr(`felhom-agent: setup: ${(err as Error).message}\n`);
      return EXIT_FAILURE;
    }
  }
  const endpoint = parseEndpoint(endpointText ?? "https://127.0.0.1:8006");

  const say = (line: string) => (values.json ? ctx.stderr : ctx.stdout)(`${line}\n`);
  const runner = ctx.deps?.runner ?? spawnRunner(ctx.env);
  let result: SetupResult;
  try {
    result = await runHostSetup(
      {
        node,
        endpoint,
        rotateToken: values["rotate-token"] === true,
        repin: values.repin === true,
        ...(values.enroll !== undefined && hub !== undefined
          ? {
              enroll: {
                hub,
                code: values.enroll,
                ...(values["accept-signers"] !== undefined
                  ? { acceptSigners: values["accept-signers"] }
                  : {}),
              },
            }
          : {}),
      },
      {
        runner,
        paths,
        presented: ctx.deps?.presented ?? presentedFingerprint,
        canChown: euid === 0,
        tokenSuffix: () => randomBytes(3).toString("hex"),
        say,
      },
    );
  } catch (err) {
    if (err instanceof ToolMissingError) {
      fail(
        ctx,
        err.message,
        "setup runs on a Proxmox VE host (pveum, pvenode, systemctl, runuser)",
      );
      return EXIT_FAILURE;
    }
    // These messages already end with what to do.
    if (err instanceof PinError || err instanceof SetupError) {
      ctx.stderr(`felhom-agent: setup: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    if (err instanceof UsageError) throw err;
    // A file system error (a read-only /etc, a full disk): its text names the path, never a secret.
    if (err instanceof Error) {
      fail(ctx, err.message, "fix that and run setup again (finished steps are kept)");
      return EXIT_FAILURE;
    }
    throw err;
  }
  if (values.json) {
    ctx.stdout(
      `${JSON.stringify({
        ok: result.ok,
        changes: result.changes,
        token_id: result.tokenId ?? null,
        fingerprint: result.fingerprint ?? null,
        node,
        endpoint: endpoint.origin,
        stopped: result.stopped ?? null,
      })}\n`,
    );
  }
  if (!result.ok) {
    fail(ctx, result.stopped ?? "stopped", "nothing after that step was done");
    return EXIT_FAILURE;
  }
  say(
    result.changes.length === 0
      ? "\nfelhom-agent setup: everything was already in place; nothing changed."
      : `\nfelhom-agent setup: done, ${result.changes.length} change(s).`,
  );
  return EXIT_OK;
}

async function presentedFingerprint(host: string, port: number): Promise<string> {
  try {
    return (await probeLeaf(host, port, PROBE_TIMEOUT_MS)).fingerprint;
  } catch (err) {
    const why =
      err instanceof TlsProbeError && err.timedOut
        ? "no TLS handshake in time"
        : (err as Error).message;
    throw new SetupError(
      `cannot read the certificate the API presents at ${host}:${port}: ${why}; is pveproxy running?`,
    );
  }
}

/** Proxmox names the node after the short host name. */
async function defaultNode(hostnameFile: string, underRoot: boolean): Promise<string> {
  const full = underRoot
    ? ((await readFile(hostnameFile, "utf8").catch(() => "")).split("\n")[0] ?? "").trim()
    : hostname();
  return full.split(".")[0] ?? "";
}
