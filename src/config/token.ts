/**
 * The Proxmox API token as configured: `USER@REALM!TOKENID=SECRET` (pve/FACTS.md B.6).
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

// user: no whitespace, '@', '!', '=' or ':'; realm as PVE realm ids; tokenid per FACTS B.6.
const USER_AT_REALM = /^[^\s@!=:]+@[A-Za-z][A-Za-z0-9.\-_]*$/;
const TOKEN_NAME = /^[A-Za-z][A-Za-z0-9.\-_]+$/;
const SECRET = /^[^\s;=]+$/;

/**
 * Parses the token text. On failure returns a reason that never contains any part of the
 * text: a mistyped token may still hold the real secret.
 */
export function parseTokenText(
  text: string,
  from: ProxmoxToken["from"],
): { token: ProxmoxToken } | { problem: string } {
  const t = text.trim();
  if (t === "") return { problem: "is empty" };
  // ids cannot contain '='; the server splits at the last '=' (FACTS B.6).
  const eq = t.lastIndexOf("=");
  if (eq < 0) return { problem: "has no '=SECRET' part" };
  const id = t.slice(0, eq);
  const secret = t.slice(eq + 1);
  const bang = id.indexOf("!");
  if (bang < 0) return { problem: "has no '!TOKENID' part" };
  if (!USER_AT_REALM.test(id.slice(0, bang))) return { problem: "does not start with USER@REALM" };
  if (!TOKEN_NAME.test(id.slice(bang + 1))) {
    return { problem: "has a TOKENID that does not match [A-Za-z][A-Za-z0-9._-]+" };
  }
  if (!SECRET.test(secret)) return { problem: "has an empty SECRET or one with whitespace" };
  const token = { id, from } as ProxmoxToken;
  Object.defineProperty(token, "secret", { value: secret, enumerable: false });
  return { token: Object.freeze(token) };
}

export const TOKEN_SHAPE_HINT =
  "expected USER@REALM!TOKENID=SECRET, e.g. felhom-agent@pve!agent=<uuid>; the value is not shown";
