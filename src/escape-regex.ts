/**
 * `text` with every character a regular expression reads specially escaped, so it matches itself,
 * in a character class too (`-`, `/`).
 */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
