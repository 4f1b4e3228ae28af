/**
 * Text that reaches an audit row or a terminal from untrusted input (a guest's request) is made
 * safe to show: control characters, and the Unicode bidirectional and line-separator controls
 * that can make a row read as something it is not (U+202E turns `gpj.exe` around), are written
 * as `\u{…}` escapes. A literal backslash is doubled so an escape cannot be forged either.
 */
// C0, DEL, C1; ALM; LRM, RLM; LS, PS; LRE…RLO; LRI…PDI; BOM. Matching control characters is
// the point of this pattern.
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: see above
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

export function escapeUnsafeText(text: string): string {
  return showUnsafeChars(text.replace(/\\/g, "\\\\"));
}

/**
 * Only the unsafe characters as `\u{…}`, backslashes left alone: for showing text that is
 * already structured (a row's JSON details) on a terminal, where the danger is the controls
 * themselves, not a look-alike escape.
 */
export function showUnsafeChars(text: string): string {
  return text.replace(UNSAFE, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);
}

/**
 * `escapeUnsafeText`, then cut to at most `maxChars` UTF-16 units, marked with `…` and the
 * original length so a reader knows it was cut. Cuts between characters only, never inside an
 * escape or a surrogate pair.
 */
export function boundedText(text: string, maxChars: number): string {
  const escaped = escapeUnsafeText(text);
  if (escaped.length <= maxChars) return escaped;
  const note = `…(${text.length} chars)`;
  const budget = Math.max(0, maxChars - note.length);
  let out = "";
  for (const ch of text) {
    const piece = escapeUnsafeText(ch);
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return `${out}${note}`;
}
