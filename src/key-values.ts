/** Parsing shared by the preload's OTEL_* settings and the sidecar's SPANSTAT_* overrides. */

/** `k1=v1,k2=v2` with URL-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
export function parseKeyValues(
  raw: string | undefined,
  name: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (!key) {
      problems.push(`${name} has an entry without a key; skipped it`);
      continue;
    }
    const value = pair.slice(eq + 1).trim();
    try {
      out[key] = decodeURIComponent(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}
