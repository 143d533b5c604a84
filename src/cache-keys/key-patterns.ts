/**
 * Configured namespace patterns (`redis.patterns`): globs over a whole key where `*` is one
 * segment and `**` the rest of the key (any number of segments). A key matching a pattern has
 * the pattern itself as its namespace; patterns are tried in order and win over learning.
 */
import { escapeRegex } from '../escape-regex';

export interface KeyPattern {
  pattern: string;
  regex: RegExp;
}

export function compileKeyPattern(pattern: string, delimiters: string): KeyPattern {
  const segment = `[^${escapeRegex(delimiters)}]*`;
  const body = pattern
    .split('**')
    .map((part) => part.split('*').map(escapeRegex).join(segment))
    .join('.*');
  return { pattern, regex: new RegExp(`^${body}$`, 's') };
}

/** The first pattern `key` matches, or undefined. */
export function matchKeyPattern(patterns: readonly KeyPattern[], key: string): string | undefined {
  for (const p of patterns) if (p.regex.test(key)) return p.pattern;
  return undefined;
}
