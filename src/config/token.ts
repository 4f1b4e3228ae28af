import { type ApiToken, ApiTokenFormatError, parseApiToken } from "../proxmox/api-token.ts";

/**
 * The Proxmox API token as configured: `USER@REALM!TOKENID=SECRET` (docs/proxmox-behaviour.md#api-tokens).
 * `secret` is not enumerable, so JSON.stringify, spreading and inspection of a resolved config
 * do not carry it; read it explicitly where the Authorization header is built.
 */
export interface ProxmoxToken {
  /** `user@realm!tokenid`: safe to print. */
  readonly id: string;
  /** Where the token came from: the `token` setting (file or env) or the `token_file`. */
  readonly from: "token" | "token_file";
  /** SECRET: the part after `=`. Never log, print or store it. */
  readonly secret: string;
}

/**
 * Parses the token text with the API client's own parser, so the config and the client can
 * never disagree on what a valid token is. On failure returns a reason that never contains any
 * part of the text: a mistyped token may still hold the real secret.
 */
export function parseTokenText(
  text: string,
  from: ProxmoxToken["from"],
): { token: ProxmoxToken } | { problem: string } {
  let parsed: ApiToken;
  try {
    parsed = parseApiToken(text);
  } catch (err) {
    if (err instanceof ApiTokenFormatError) return { problem: err.problem };
    throw err;
  }
  const t = text.trim();
  const token = { id: parsed.tokenId, from } as ProxmoxToken;
  Object.defineProperty(token, "secret", {
    value: t.slice(parsed.tokenId.length + 1),
    enumerable: false,
  });
  return { token: Object.freeze(token) };
}

export const TOKEN_SHAPE_HINT =
  "expected USER@REALM!TOKENID=SECRET, e.g. felhom-agent@pve!agent=<uuid>; the value is not shown";
