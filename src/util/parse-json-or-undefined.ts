/**
 * A response body as JSON, or undefined when it is empty or not JSON: the HTTP clients (hub,
 * Proxmox) read error bodies and envelopes this way and judge the value with their own schema,
 * so an unreadable body becomes their own typed error instead of a SyntaxError.
 */
export function parseJsonOrUndefined(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
