/**
 * Field names whose value is replaced with "<redacted>" whatever it holds.
 *
 * A name is split into words (camelCase, snake_case, kebab-case, dots) and is secret when a word
 * is one of SECRET_WORDS, or two adjacent words form one of SECRET_PAIRS, unless its last word
 * says the value is a reference to the secret rather than the secret (token_file, token_id,
 * secret_path, password_count).
 *
 * Deliberately NOT secret: a bare `key` (config key paths, map keys, idempotency keys) and
 * `value` (too common; a secret there is still caught by the known-secret scan). `public_key`
 * and `ssh_key` are public material. Over-redacting a name is cheap; a missed one leaks, so
 * when in doubt a word goes in.
 */
const SECRET_WORDS = new Set([
  "token",
  "tokens",
  "secret",
  "secrets",
  "password",
  "passwd",
  "passphrase",
  "authorization",
  "cookie",
  "credential",
  "credentials",
  "apikey",
  "privkey",
  "privatekey",
  "pvesecret",
]);

const SECRET_PAIRS = new Set([
  "private_key",
  "api_key",
  "secret_key",
  "signing_key",
  "hub_key",
  "session_key",
  "auth_header",
]);

const REFERENCE_SUFFIXES = new Set([
  "file",
  "path",
  "id",
  "ids",
  "name",
  "count",
  "type",
  "kind",
  "length",
  "len",
  "source",
  "from",
  "ttl",
  "expires",
  "expiry",
]);

export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
  if (words.length === 0) return false;
  if (words.length > 1 && REFERENCE_SUFFIXES.has(words[words.length - 1] as string)) return false;
  for (let i = 0; i < words.length; i++) {
    if (SECRET_WORDS.has(words[i] as string)) return true;
    if (i > 0 && SECRET_PAIRS.has(`${words[i - 1]}_${words[i]}`)) return true;
  }
  return false;
}
