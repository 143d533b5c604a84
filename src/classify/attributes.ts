import type { Attributes, AttributeValue } from '../model/span';

/** First present attribute among stable-then-old names (see ATTR in src/model/attributes.ts). */
export function firstAttr(attributes: Attributes, names: readonly string[]): AttributeValue | undefined {
  for (const name of names) {
    const value = attributes[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

export function stringAttr(attributes: Attributes, names: readonly string[]): string | undefined {
  const value = firstAttr(attributes, names);
  // Most values are strings already: String() on one still cost a builtin call per read.
  return typeof value === 'string' || value === undefined ? value : String(value);
}

export function numberAttr(attributes: Attributes, names: readonly string[]): number | undefined {
  const value = firstAttr(attributes, names);
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}
