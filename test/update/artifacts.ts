import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root and the Bun that runs these tests. */
export const REPO = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;

/**
 * A stand-in artifact: a shell script that answers `version --json` and `config check` the way
 * a build of `version` would, so the updater's steps can be tested without compiling. `check`
 * is the exit code of `config check`; `reports` the version it prints.
 */
export function scriptArtifact(
  version: string,
  opts: { check?: number; reports?: string; hang?: boolean; say?: string } = {},
): Uint8Array {
  const reports = opts.reports ?? version;
  const text = `#!/bin/sh
# test artifact for ${version}
for a in "$@"; do
  case "$a" in
    version) ${opts.hang ? "sleep 30;" : ""} echo '{"version":"${reports}"}'; exit 0 ;;
    check) echo '${opts.say ?? `config check says ${opts.check ?? 0}`}' >&2; exit ${opts.check ?? 0} ;;
  esac
done
exit 64
`;
  return new TextEncoder().encode(text);
}

/**
 * An artifact that runs the agent from this repository's source under Bun, reporting
 * `version` (bun's --define sets the build version as `bun build` would). This is the real
 * agent code; only the compile step is skipped.
 */
export function sourceArtifact(version: string): Uint8Array {
  return new TextEncoder().encode(`#!/bin/sh
# agent ${version} from source
exec '${BUN}' --define 'FELHOM_AGENT_BUILD_VERSION="${version}"' '${join(REPO, "src/main.ts")}' "$@"
`);
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Installs `bytes` as `versions/<version>/felhom-agent` the way install.sh lays it out. */
export function installVersion(stateDir: string, version: string, bytes: Uint8Array): string {
  const dir = join(stateDir, "versions", version);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "felhom-agent");
  writeFileSync(path, bytes);
  chmodSync(path, 0o755);
  return path;
}

/** A stream of `bytes` in chunks of `chunk` bytes, as a download would deliver it. */
export function streamOf(bytes: Uint8Array, chunk = 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}
