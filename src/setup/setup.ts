import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hubIdentityPath } from "../hub/config-section.ts";
import { type ApiToken, parseApiToken } from "../proxmox/api-token.ts";
import { REPIN_ADVICE } from "../proxmox/transport-errors.ts";
import { AGENT_ROLE } from "../selftest/required-privileges.ts";
import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { ensureRole, ensureUser } from "./access.ts";
import { type AgentFile, agentFileText, pinnedFingerprint, readAgentFile } from "./config-file.ts";
import { ensureFile, type HostPaths, lookupId, type Owner } from "./host-files.ts";
import { COMMENT, PVE_USER, SERVICE_USER, SetupError } from "./names.ts";
import { checkWithPvenode, PinError, readNodeCertificate } from "./node-pin.ts";
import { pveum } from "./pveum.ts";
import type { SetupRunner } from "./runner.ts";
import { ensureService } from "./service.ts";

const STATE_DIR = "/var/lib/felhom-agent";

export interface SetupOptions {
  node: string;
  /** https://HOST:PORT of the Proxmox API on this host. */
  endpoint: { origin: string; host: string; port: number };
  rotateToken: boolean;
  repin: boolean;
  enroll?: { hub: string; code: string; acceptSigners?: string };
}

export interface SetupDeps {
  runner: SetupRunner;
  paths: HostPaths;
  /** SHA-256 (colon form) of the leaf the endpoint presents; nothing else is sent. */
  presented(host: string, port: number): Promise<string>;
  /** Whether files can be given to the service user (the process is root). */
  canChown: boolean;
  /** A fresh token name suffix when the name `agent` is taken. */
  tokenSuffix(): string;
  /** One progress line (never holds a secret). */
  say(line: string): void;
}

export interface SetupResult {
  ok: boolean;
  changes: string[];
  tokenId?: string;
  fingerprint?: string;
  /** Why setup stopped, when `ok` is false. */
  stopped?: string;
}

/**
 * One idempotent pass over everything the agent needs on this host
 * (docs/architecture.md#one-command-setup): it checks, repairs what drifted, says each change,
 * and changes nothing that is already right.
 */
export async function runHostSetup(opts: SetupOptions, deps: SetupDeps): Promise<SetupResult> {
  const { paths, runner, say } = deps;
  const changes: string[] = [];
  const changed = (line: string) => {
    changes.push(line);
    say(line);
  };
  const same = (line: string) => say(`unchanged  ${line}`);

  // ---- preflight: nothing is changed until every check here has passed ----
  const uid = await lookupId(paths, "passwd", SERVICE_USER);
  const gid = await lookupId(paths, "group", SERVICE_USER);
  if (uid === undefined || gid === undefined) {
    throw new SetupError(
      `the service user ${SERVICE_USER} does not exist; run install.sh first (it creates the user and the files)`,
    );
  }
  for (const needed of [
    paths.configFile.slice(0, paths.configFile.lastIndexOf("/")),
    paths.binary,
  ]) {
    if (!existsSync(paths.at(needed))) {
      throw new SetupError(`${needed} does not exist; run install.sh first`);
    }
  }
  const serviceOwner: Owner | undefined = deps.canChown ? { uid, gid } : undefined;
  const configOwner: Owner | undefined = deps.canChown ? { uid: 0, gid } : undefined;
  const agentFile = await readAgentFile(paths.at(paths.configFile));

  const cert = await readNodeCertificate(paths, opts.node);
  await checkWithPvenode(runner, cert);
  const presented = await deps.presented(opts.endpoint.host, opts.endpoint.port);
  if (presented !== cert.fingerprint) {
    throw new PinError(
      `${opts.endpoint.origin} presents ${presented}, but ${cert.file} is ${cert.fingerprint}, and nothing was changed; ` +
        "after a certificate change run `systemctl reload pveproxy`; if it still differs, something else answers on that address",
    );
  }
  // Compared in canonical form: the config may hold the pin as 64 bare hex digits.
  const configured = pinnedFingerprint(agentFile);
  const pinned =
    configured === undefined ? undefined : (normalizeFingerprint(configured) ?? configured);
  if (pinned !== undefined && pinned !== cert.fingerprint && !opts.repin) {
    throw new PinError(
      `${REPIN_ADVICE} (pinned ${pinned}, ${cert.file} is ${cert.fingerprint}); nothing was changed`,
    );
  }
  say(`checked    ${cert.file} ${cert.fingerprint} (pvenode and ${opts.endpoint.origin} agree)`);

  const pve = pveum(runner);
  await ensureRole(pve, changed, same);
  await ensureUser(pve, changed, same);

  // ---- the token: exactly one, the one in the token file ----
  const tokenPath = paths.at(paths.tokenFile);
  const fileText = await readFile(tokenPath, "utf8").catch(() => undefined);
  const fromFile = fileText === undefined ? undefined : tokenIdOf(fileText);
  const existing = await pve.tokens(PVE_USER);
  let token: string;
  let tokenChanged = false;
  if (
    !opts.rotateToken &&
    fileText !== undefined &&
    fromFile?.userId === PVE_USER &&
    existing.includes(fromFile.tokenName)
  ) {
    token = fromFile.tokenName;
    const fixes = await ensureFile(tokenPath, fileText, 0o600, serviceOwner);
    if (fixes.length > 0) changed(`repaired   ${paths.tokenFile}: ${fixes.join(", ")}`);
    else same(`token ${PVE_USER}!${token} (${paths.tokenFile}, mode 600)`);
  } else {
    token = existing.includes("agent") ? `agent-${deps.tokenSuffix()}` : "agent";
    const minted = await pve.addToken(PVE_USER, token, COMMENT);
    // Written at once: the secret exists nowhere else and cannot be read back from PVE.
    await ensureFile(tokenPath, `${minted.fullTokenId}=${minted.value}\n`, 0o600, serviceOwner);
    tokenChanged = true;
    const why = opts.rotateToken
      ? "rotated"
      : fileText === undefined
        ? "no token file yet"
        : "the token file names no token of this user";
    changed(
      `created    token ${minted.fullTokenId} (privilege-separated; ${why}), written to ${paths.tokenFile} mode 600`,
    );
  }
  const fullToken = `${PVE_USER}!${token}`;

  // ---- ACLs: the role on / for the user AND the token (PVE intersects them) ----
  const acl = await pve.acl();
  const has = (type: "user" | "token", ugid: string) =>
    acl.some(
      (a) => a.path === "/" && a.type === type && a.ugid === ugid && a.roleid === AGENT_ROLE,
    );
  for (const [type, ugid] of [
    ["user", PVE_USER],
    ["token", fullToken],
  ] as const) {
    if (has(type, ugid)) {
      same(`acl / ${type} ${ugid} role ${AGENT_ROLE}`);
    } else {
      await pve.grant("/", AGENT_ROLE, type === "user" ? { users: ugid } : { tokens: ugid });
      changed(`added      acl / ${type} ${ugid} role ${AGENT_ROLE}`);
    }
  }

  // ---- the configuration ----
  const text = agentFileText(
    agentFile,
    {
      endpoint: opts.endpoint.origin,
      node: opts.node,
      tokenFile: paths.tokenFile,
      fingerprint: cert.fingerprint,
    },
    STATE_DIR,
  );
  const configFixes = await ensureFile(paths.at(paths.configFile), text, 0o640, configOwner);
  if (configFixes.length > 0) {
    const pinNote =
      pinned === undefined
        ? `; pinned ${cert.fingerprint}`
        : pinned !== cert.fingerprint
          ? `; re-pinned ${pinned} → ${cert.fingerprint}`
          : "";
    changed(`repaired   ${paths.configFile}: ${configFixes.join(", ")}${pinNote}`);
  } else {
    same(`${paths.configFile} (pin ${cert.fingerprint})`);
  }
  // Mode and owner fixes do not change what the running daemon read; new content does.
  const restartNeeded =
    tokenChanged || configFixes.includes("created") || configFixes.includes("content replaced");

  // The unit loads agent.env over agent.json, but a selftest run by hand does not: an override
  // there would make the service differ from what was just checked.
  for (const name of await proxmoxOverrides(paths)) {
    say(
      `warning    /etc/felhom-agent/agent.env sets ${name}, which overrides agent.json for the service (not for this selftest); remove it unless you mean it`,
    );
  }

  // ---- the selftest, as the service user, before the service runs with it ----
  const selftest = await runner.run("runuser", [
    "-u",
    SERVICE_USER,
    "--",
    paths.at(paths.binary),
    "--config",
    paths.at(paths.configFile),
    "--selftest",
  ]);
  for (const line of selftest.stdout.trimEnd().split("\n")) if (line !== "") say(`  ${line}`);
  if (selftest.code !== 0) {
    return {
      ok: false,
      changes,
      tokenId: fullToken,
      fingerprint: cert.fingerprint,
      stopped: `the selftest as ${SERVICE_USER} failed (exit ${selftest.code}, report above); the service was not started and old tokens were kept. Fix what it reports and run setup again`,
    };
  }
  say(`passed     selftest as ${SERVICE_USER}`);

  await ensureService(runner, restartNeeded, changed, same);

  // ---- only now, with the service on the new token, the others go ----
  for (const other of existing.filter((t) => t !== token)) {
    const id = `${PVE_USER}!${other}`;
    for (const a of acl.filter((x) => x.type === "token" && x.ugid === id)) {
      await pve.revoke(a.path, a.roleid, { tokens: id });
    }
    await pve.removeToken(PVE_USER, other);
    changed(`revoked    token ${id}`);
  }

  const identity = identityPath(agentFile);
  if (opts.enroll && existsSync(paths.at(identity))) {
    // Re-running the one-line install must not fail on an enrollment that already happened.
    same(
      `enrolled (${identity} exists; to enroll anew: felhom-agent enroll --force --hub URL --code CODE, as ${SERVICE_USER})`,
    );
  } else if (opts.enroll) {
    const e = opts.enroll;
    const args = [
      "-u",
      SERVICE_USER,
      "--",
      paths.at(paths.binary),
      "--config",
      paths.at(paths.configFile),
      "enroll",
      "--hub",
      e.hub,
      "--code",
      e.code,
    ];
    if (e.acceptSigners !== undefined) args.push("--accept-signers", e.acceptSigners);
    say(
      `enrolling  with ${e.hub} as ${SERVICE_USER} (compare the signer fingerprints with the hub)`,
    );
    const code = await runner.interactive("runuser", args);
    if (code !== 0) {
      return {
        ok: false,
        changes,
        tokenId: fullToken,
        fingerprint: cert.fingerprint,
        stopped: `enrollment failed (exit ${code}, see above); everything else is set up. Get a new code from the hub and run: felhom-agent enroll --hub ${e.hub} --code CODE (as ${SERVICE_USER})`,
      };
    }
    changed(`enrolled   with ${e.hub}`);
  }
  return { ok: true, changes, tokenId: fullToken, fingerprint: cert.fingerprint };
}

function tokenIdOf(text: string): ApiToken | undefined {
  try {
    return parseApiToken(text);
  } catch {
    return undefined;
  }
}

async function proxmoxOverrides(paths: HostPaths): Promise<string[]> {
  const text = await readFile(paths.at("/etc/felhom-agent/agent.env"), "utf8").catch(() => "");
  return text
    .split("\n")
    .map((l) => /^\s*(?:export\s+)?(FELHOM_AGENT_PROXMOX_[A-Z_]+)\s*=/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Where the daemon keeps its hub identity, as agent.json says (the hub section's default). */
function identityPath(file: AgentFile | undefined): string {
  const hub = (file as { hub?: { identity_file?: unknown } } | undefined)?.hub;
  const stateDir = (file as { state_dir?: unknown } | undefined)?.state_dir;
  return hubIdentityPath(
    typeof hub?.identity_file === "string" ? { identity_file: hub.identity_file } : {},
    typeof stateDir === "string" ? stateDir : STATE_DIR,
  );
}
