/**
 * Description round-trip as PVE stores it (docs/proxmox-behaviour.md#snapshots-and-descriptions): written as one `#` comment line
 * per `\n`-separated line with trailing empty lines dropped (Perl `split`), read back with a
 * `\n` appended to every line. `\r` survives (it is URI-escaped, not split on).
 * Returns undefined when nothing is left, because an empty description disappears from GET.
 */
export function storedDescription(input: string): string | undefined {
  const lines = input.split("\n");
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) return undefined;
  return lines.map((l) => `${l}\n`).join("");
}
