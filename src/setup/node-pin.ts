import { readFile } from "node:fs/promises";
import { z } from "zod";
import { pemFingerprint } from "../tls/fingerprint.ts";
import type { HostPaths } from "./host-files.ts";
import type { SetupRunner } from "./runner.ts";

/**
 * The pin comes from the node's own certificate, read as root on the host: PVE's proxy serves
 * `pveproxy-ssl.pem` when it exists and `pve-ssl.pem` otherwise, both under
 * `/etc/pve/nodes/<node>/` (docs/proxmox-behaviour.md#which-certificate-pveproxy-serves). It is
 * cross-checked twice before it is trusted: against PVE's own reading of the same file
 * (`pvenode cert info`) and against what the API endpoint presents on the wire.
 */
export interface NodeCertificate {
  /** Host path of the file read. */
  file: string;
  fingerprint: string;
}

export class PinError extends Error {
  override readonly name = "PinError";
}

export async function readNodeCertificate(
  paths: HostPaths,
  node: string,
): Promise<NodeCertificate> {
  const dir = `/etc/pve/nodes/${node}`;
  for (const name of ["pveproxy-ssl.pem", "pve-ssl.pem"]) {
    const file = `${dir}/${name}`;
    let pem: string;
    try {
      pem = await readFile(paths.at(file), "utf8");
    } catch {
      continue;
    }
    try {
      // A custom certificate file may hold a chain: the leaf comes first and is what is served.
      return { file, fingerprint: pemFingerprint(pem) };
    } catch {
      throw new PinError(`${file} holds no readable certificate; check it with: pvenode cert info`);
    }
  }
  throw new PinError(
    `neither ${dir}/pveproxy-ssl.pem nor ${dir}/pve-ssl.pem exists; is '${node}' this node's name (--node NAME)?`,
  );
}

const certInfo = z.array(z.object({ filename: z.string(), fingerprint: z.string() }).passthrough());

/** PVE's own fingerprint of the same file (`pvenode cert info`), or a PinError. */
export async function checkWithPvenode(runner: SetupRunner, cert: NodeCertificate): Promise<void> {
  const r = await runner.run("pvenode", ["cert", "info", "--output-format", "json"]);
  if (r.code !== 0) {
    throw new PinError(
      `pvenode cert info failed (exit ${r.code}): ${r.stderr.trim()}; run it by hand to see why`,
    );
  }
  let parsed: z.infer<typeof certInfo>;
  try {
    parsed = certInfo.parse(JSON.parse(r.stdout));
  } catch {
    throw new PinError("pvenode cert info: unexpected answer; run it by hand to see why");
  }
  const base = cert.file.slice(cert.file.lastIndexOf("/") + 1);
  const entry = parsed.find((c) => c.filename === base);
  if (!entry) {
    throw new PinError(
      `pvenode cert info does not list ${base}; is this the node's name (--node)?`,
    );
  }
  if (entry.fingerprint.toUpperCase() !== cert.fingerprint) {
    throw new PinError(
      `pvenode cert info reports ${entry.fingerprint} for ${base}, but the file reads ${cert.fingerprint}; nothing was changed, find out why before pinning`,
    );
  }
}
