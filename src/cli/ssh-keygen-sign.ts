import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Ed25519 } from "../authz/ed25519.ts";
import {
  parseArmoredSshsig,
  type Sshsig,
  SshsigFormatError,
  verifySshsig,
} from "../authz/sshsig.ts";

/**
 * Signing is OpenSSH's job: `ssh-keygen -Y sign` reads the key file (any cipher, any KDF),
 * asks for its passphrase on the terminal, or finds the private half in ssh-agent when `-f`
 * names a public key, and with it a key on a hardware token behind the agent. The agent never
 * holds an operator's private key, so it has no parser for one.
 */
export interface SshKeygenSignRequest {
  /** The ssh-keygen binary. */
  keygen: string;
  /** A private key file, or a `.pub` whose private half is in ssh-agent. */
  keyFile: string;
  namespace: string;
  message: Uint8Array;
  /** Handed to ssh-keygen through SSH_ASKPASS, never on a command line or in the environment. */
  passphraseFile?: string;
  /** The caller's environment (SSH_AUTH_SOCK reaches ssh-keygen through it). */
  env: Record<string, string | undefined>;
  /** Where ssh-keygen's own messages go (prompts for a touch, its errors). */
  stderr: (text: string) => void;
  ed25519: Ed25519;
}

/** ssh-keygen failed or gave something the agents would not accept. */
export class SshKeygenSignError extends Error {
  override readonly name = "SshKeygenSignError";
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/**
 * Runs `ssh-keygen -q -Y sign -n NAMESPACE -f KEY FILE` over the message, written to a file in
 * a private temporary directory, and returns the signature, parsed and verified against the
 * message by the agent's own verifier: a key type the agents refuse (anything but
 * ssh-ed25519) is reported here, not on the host. The message goes through a file, not stdin,
 * because ssh-keygen reads a passphrase from stdin when there is no terminal; its stdin is
 * /dev/null.
 */
export async function sshKeygenSign(req: SshKeygenSignRequest): Promise<Sshsig> {
  const work = mkdtempSync(join(tmpdir(), "felhom-sign-"));
  const env: Record<string, string | undefined> = { ...req.env };
  const errLines: string[] = [];
  let armored: string;
  let exitCode: number;
  try {
    const messageFile = join(work, "payload.json");
    writeFileSync(messageFile, req.message, { mode: 0o600 });
    if (req.passphraseFile !== undefined) {
      const script = join(work, "askpass");
      // ssh-keygen runs SSH_ASKPASS and reads the passphrase from its stdout, up to the first
      // newline; the script holds only the file's path.
      writeFileSync(script, `#!/bin/sh\nexec cat -- ${shellQuote(req.passphraseFile)}\n`, {
        mode: 0o700,
      });
      chmodSync(script, 0o700);
      env.SSH_ASKPASS = script;
      env.SSH_ASKPASS_REQUIRE = "force";
    }
    const proc = Bun.spawn(
      [req.keygen, "-q", "-Y", "sign", "-n", req.namespace, "-f", req.keyFile, messageFile],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: env as Record<string, string> },
    );
    // Forwarded as it comes: a hardware key asks for a touch through it.
    const decoder = new TextDecoder();
    let pending = "";
    const emit = (line: string) => {
      const clean = line.replace(/^Enter passphrase[^:]*: ?/, "");
      if (clean.trim() === "") return;
      errLines.push(clean);
      req.stderr(`ssh-keygen: ${clean}\n`);
    };
    for await (const chunk of proc.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        emit(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
    }
    emit(pending);
    exitCode = await proc.exited;
    armored = exitCode === 0 ? readFileSync(`${messageFile}.sig`, "utf8") : "";
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (exitCode !== 0) {
    const last = errLines.at(-1) ?? `exit code ${exitCode}`;
    throw new SshKeygenSignError(
      `ssh-keygen could not sign with '${req.keyFile}': ${last.trim()}`,
      hintFor(last),
    );
  }
  let sig: Sshsig;
  try {
    sig = parseArmoredSshsig(armored);
  } catch (e) {
    if (e instanceof SshsigFormatError) {
      throw new SshKeygenSignError(
        `the signature ssh-keygen made is not one the agents accept (${e.message})`,
        "use an ssh-ed25519 key (ssh-keygen -t ed25519)",
      );
    }
    throw e;
  }
  if (!(await verifySshsig(req.ed25519, sig, req.message, req.namespace))) {
    throw new SshKeygenSignError(
      "the signature ssh-keygen made does not verify over the payload",
      "check the ssh-keygen on PATH",
    );
  }
  return sig;
}

function hintFor(line: string): string {
  if (/incorrect passphrase/i.test(line)) return "check the passphrase (--passphrase-file FILE)";
  if (/UNPROTECTED|too open|bad permissions/i.test(line)) return "chmod 600 the key file";
  if (/agent|no private key found for public key/i.test(line)) {
    return "load the key with ssh-add, or pass the private key file";
  }
  return "check the key file, or pass its .pub with the key loaded in ssh-agent";
}

/** One argument for /bin/sh, single-quoted. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
