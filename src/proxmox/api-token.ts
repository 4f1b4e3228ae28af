/**
 * A Proxmox API token `USER@REALM!TOKENID=SECRET` (docs/proxmox-behaviour.md#api-tokens). The secret is held in a
 * closure: it is not a property, so it cannot leak through JSON, inspection, or an error that
 * carries the token object.
 */
export interface ApiToken {
  /** `user@realm!tokenid`, safe to log. */
  readonly tokenId: string;
  /** `user@realm`. */
  readonly userId: string;
  /** The part after `!`. */
  readonly tokenName: string;
  /** The `Authorization` header value. Contains the secret: never log it. */
  authorizationHeader(): string;
}

export class ApiTokenFormatError extends Error {
  override readonly name = "ApiTokenFormatError";
  constructor(readonly problem: string) {
    super(`invalid Proxmox API token: ${problem} (expected USER@REALM!TOKENID=SECRET)`);
  }
}

// user part: no whitespace, '@', '!' or '='; realm as pve-realm; tokenid per docs/proxmox-behaviour.md#api-tokens.
const USER_ID = /^[^\s@!=:]+@[A-Za-z][A-Za-z0-9.\-_]*$/;
const TOKEN_NAME = /^[A-Za-z][A-Za-z0-9.\-_]+$/;
const SECRET = /^[^\s;=]+$/;

export function parseApiToken(text: string): ApiToken {
  if (typeof text !== "string" || text.trim() === "") throw new ApiTokenFormatError("empty");
  const t = text.trim();
  // The server splits at the last '=' (docs/proxmox-behaviour.md#api-tokens) and ids cannot contain '=': a secret with '='
  // would reach PVE as a different id, so it is refused here.
  const eq = t.indexOf("=");
  if (eq < 0) throw new ApiTokenFormatError("no '=' between token id and secret");
  const tokenId = t.slice(0, eq);
  const secret = t.slice(eq + 1);
  const bang = tokenId.indexOf("!");
  if (bang < 0) throw new ApiTokenFormatError("no '!' between user and token name");
  const userId = tokenId.slice(0, bang);
  const tokenName = tokenId.slice(bang + 1);
  if (!USER_ID.test(userId)) throw new ApiTokenFormatError("user part is not USER@REALM");
  if (!TOKEN_NAME.test(tokenName)) {
    throw new ApiTokenFormatError("token name must match [A-Za-z][A-Za-z0-9._-]+");
  }
  if (!SECRET.test(secret)) throw new ApiTokenFormatError("secret is empty or has whitespace");
  const header = `PVEAPIToken=${tokenId}=${secret}`;
  const token: ApiToken = {
    tokenId,
    userId,
    tokenName,
    authorizationHeader: () => header,
  };
  Object.defineProperty(token, "toJSON", { value: () => ({ tokenId }), enumerable: false });
  return Object.freeze(token);
}
