import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { describeFsError } from "./fs.ts";
import type { ResolveContext } from "./section.ts";

/**
 * The TLS trust fields the Proxmox and hub sections share: a pinned leaf fingerprint, or a CA
 * file. One reading of each, so both endpoints accept and refuse the same values.
 */
export function resolveFingerprintField(
  ctx: ResolveContext,
  path: readonly string[],
  text: string,
): { kind: "fingerprint"; sha256: string } {
  const sha256 = normalizeFingerprint(text);
  if (!sha256) {
    return ctx.fail(
      path,
      "is not a SHA-256 fingerprint; expected 32 hex pairs AA:BB:… or 64 hex digits",
    );
  }
  return { kind: "fingerprint", sha256 };
}

export async function resolveCaFileField(
  ctx: ResolveContext,
  path: readonly string[],
  caFile: string,
): Promise<{ kind: "ca"; caFile: string; caPem: string }> {
  requireAbsolutePath(ctx, path, caFile);
  let caPem: string;
  try {
    caPem = await ctx.fs.readFile(caFile);
  } catch (err) {
    return ctx.fail(path, `${caFile} ${describeFsError(err)}`);
  }
  if (!caPem.includes("-----BEGIN CERTIFICATE-----")) {
    ctx.fail(path, `${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return { kind: "ca", caFile, caPem };
}

export function requireAbsolutePath(
  ctx: ResolveContext,
  path: readonly string[],
  value: string,
): void {
  if (!value.startsWith("/") || value.includes("\0")) {
    ctx.fail(path, "must be an absolute path");
  }
}
