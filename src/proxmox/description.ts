/**
 * PVE stores a description as `#` comment lines and reads each back with a `\n` appended, so
 * `"hello"` reads back as `"hello\n"` and several trailing newlines collapse to one
 * (docs/proxmox-behaviour.md#snapshots-and-descriptions). Compare descriptions through this function, on both sides, so that a
 * round trip through Proxmox is not seen as drift. An empty description disappears from GET
 * config, so a missing one compares equal to `""`.
 */
export function normalizeDescription(text: string | undefined | null): string {
  if (text == null) return "";
  return text.replace(/\n+$/, "");
}
