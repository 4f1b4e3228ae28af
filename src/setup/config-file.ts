import { readFile } from "node:fs/promises";
import { z } from "zod";
import { SetupError } from "./names.ts";

/**
 * The parts of agent.json setup writes: `proxmox.endpoint`, `node`, `token_file` and the pin
 * `tls.fingerprint`. Everything else in the file is the operator's and is kept as it is.
 */
const fileSchema = z
  .object({
    proxmox: z
      .object({ tls: z.object({}).passthrough().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

export type AgentFile = z.infer<typeof fileSchema>;

export interface ProxmoxSettings {
  endpoint: string;
  node: string;
  tokenFile: string;
  fingerprint: string;
}

/** The file as it is (undefined when absent); a file that is not a JSON object is an error. */
export async function readAgentFile(path: string): Promise<AgentFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SetupError(`${path} is not valid JSON; fix or remove it, then run setup again`);
  }
  const r = fileSchema.safeParse(data);
  if (!r.success) {
    throw new SetupError(
      `${path} is not a JSON object with an object 'proxmox'; fix or remove it, then run setup again`,
    );
  }
  return r.data;
}

/** The pin configured today, if any. */
export function pinnedFingerprint(file: AgentFile | undefined): string | undefined {
  const fp = file?.proxmox?.tls?.fingerprint;
  return typeof fp === "string" ? fp : undefined;
}

/** The configured endpoint, if any. */
export function configuredEndpoint(file: AgentFile | undefined): string | undefined {
  const e = file?.proxmox?.endpoint;
  return typeof e === "string" ? e : undefined;
}

/**
 * The new file text: the Proxmox connection as setup made it. An inline `token` would win over
 * the token file setup manages, and any other trust mode over the pin, so both are dropped.
 */
export function agentFileText(
  file: AgentFile | undefined,
  s: ProxmoxSettings,
  stateDir: string,
): string {
  const base: Record<string, unknown> = file
    ? { ...file }
    : {
        privileged: { mode: "sudo", sudo_path: "/usr/bin/sudo" },
        state_dir: stateDir,
        log: { level: "info" },
      };
  const { token: _inline, tls: _tls, ...rest } = (file?.proxmox ?? {}) as Record<string, unknown>;
  const proxmox = {
    ...rest,
    endpoint: s.endpoint,
    node: s.node,
    token_file: s.tokenFile,
    tls: { fingerprint: s.fingerprint },
  };
  return `${JSON.stringify({ proxmox, ...withoutKey(base, "proxmox") }, null, 2)}\n`;
}

function withoutKey(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _drop, ...rest } = o;
  return rest;
}
