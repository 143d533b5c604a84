/**
 * SPANSTAT_* environment variables: one per config leaf, named by its dotted path in SNAKE_CASE
 * (`advisor.slowQuery.p95Ms` → SPANSTAT_ADVISOR_SLOW_QUERY_P95_MS), derived from the schema so the
 * names cannot drift from the keys. A SPANSTAT_* variable that names no setting is an error, as an
 * unknown YAML key is: a typo must name itself rather than be ignored.
 */
import type { z } from 'zod';
import { SpanstatError } from '../errors';
import { parseKeyValues } from '../key-values';
import { configSchema } from './schema';

/** SPANSTAT_* variables that are not config keys, and who reads them. */
export const NON_CONFIG_VARIABLES: ReadonlySet<string> = new Set([
  'SPANSTAT_V8_FLAGS', // the sidecar CLI's V8 heap flags (src/cli/v8-flags.ts)
  'SPANSTAT_API_URL', // the read commands' default --api (src/cli/main.ts)
  'SPANSTAT_POOL_CONNECT_SPANS', // the preload, in the app's process (src/preload/settings.ts)
]);

type LeafKind = 'string' | 'number' | 'boolean' | 'list' | 'json' | 'strings-by-key' | 'numbers-by-key';

interface EnvSetting {
  path: readonly string[];
  kind: LeafKind;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  /** An array's element schema. */
  element?: z.ZodType;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { def: SchemaDef }).def;
}

/** The schema under default/prefault/optional wrappers. */
function unwrap(schema: z.ZodType): SchemaDef {
  let def = defOf(schema);
  while (def.innerType !== undefined && def.shape === undefined) def = defOf(def.innerType);
  return def;
}

function leafKind(def: SchemaDef): LeafKind {
  if (def.type === 'number' || def.type === 'boolean') return def.type;
  // A list of objects (advisor.databases) has no comma form: its variable holds the list as JSON.
  if (def.type === 'array')
    return def.element !== undefined && unwrap(def.element).shape !== undefined ? 'json' : 'list';
  if (def.type === 'record' && def.valueType !== undefined)
    return unwrap(def.valueType).type === 'number' ? 'numbers-by-key' : 'strings-by-key';
  return 'string';
}

export function toSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function collectSettings(
  shape: Record<string, z.ZodType>,
  path: string[],
  into: Map<string, EnvSetting>,
): Map<string, EnvSetting> {
  for (const [key, schema] of Object.entries(shape)) {
    const def = unwrap(schema);
    const keyPath = [...path, key];
    if (def.shape !== undefined) collectSettings(def.shape, keyPath, into);
    else {
      const name = `SPANSTAT_${keyPath.map(toSnake).join('_')}`;
      // Two keys whose SNAKE_CASE paths meet (`a.bC` and `aB.c`) would share a variable: refuse to start.
      if (into.has(name))
        throw new Error(`${name} would name both ${into.get(name)?.path.join('.')} and ${keyPath.join('.')}`);
      into.set(name, { path: keyPath, kind: leafKind(def) });
    }
  }
  return into;
}

/** Every settable variable, by name. */
export const ENV_SETTINGS: ReadonlyMap<string, EnvSetting> = collectSettings(
  configSchema.shape as Record<string, z.ZodType>,
  [],
  new Map(),
);

export interface EnvLayer {
  /** The variables' values as a partial config. */
  values: Record<string, unknown>;
  /** Dotted path → the variable that set it. */
  origins: Map<string, string>;
}

/** Reads the SPANSTAT_* variables; throws SPANSTAT_ERR_ENV_INVALID naming one that is no setting. */
export function readEnvLayer(env: NodeJS.ProcessEnv): EnvLayer {
  const layer: EnvLayer = { values: {}, origins: new Map() };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SPANSTAT_') || value === undefined || NON_CONFIG_VARIABLES.has(name)) continue;
    const setting = ENV_SETTINGS.get(name);
    if (setting === undefined) throw new SpanstatError('SPANSTAT_ERR_ENV_INVALID', unknownVariable(name));
    let target = layer.values;
    for (const key of setting.path.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    const leaf = setting.path[setting.path.length - 1];
    target[leaf] = parseValue(setting.kind, value, name);
    layer.origins.set(setting.path.join('.'), name);
  }
  return layer;
}

/** A value as its setting takes it; one that does not parse stays a string for the schema to name. */
function parseValue(kind: LeafKind, value: string, name: string): unknown {
  switch (kind) {
    case 'number':
      return /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'list':
      return value.split(',').filter(Boolean);
    case 'json':
      try {
        return JSON.parse(value);
      } catch {
        // Not JSON.parse's message: it quotes the value, which may hold a database password.
        throw new SpanstatError(
          'SPANSTAT_ERR_ENV_INVALID',
          `${name}: not JSON; give the list as in the config file, e.g. [{"url":"postgres://…","services":["billing"]}]`,
        );
      }
    case 'strings-by-key':
      // The OTEL_EXPORTER_OTLP_HEADERS form, k=v,k2=v2 (entries without a key are skipped).
      return parseKeyValues(value, name, []);
    case 'numbers-by-key':
      return Object.fromEntries(
        Object.entries(parseKeyValues(value, name, [])).map(([k, v]) => [k, parseValue('number', v, name)]),
      );
    default:
      return value;
  }
}

/** Names the variable and the settings of the section it seems to aim at. */
function unknownVariable(name: string): string {
  const section = [...ENV_SETTINGS.values()]
    .map((s) => `SPANSTAT_${toSnake(s.path[0])}_`)
    .find((prefix) => name.startsWith(prefix));
  const hint =
    section === undefined
      ? `settings are SPANSTAT_<SECTION>_<KEY>, e.g. SPANSTAT_API_PORT for api.port`
      : `that section's are ${[...ENV_SETTINGS.keys()].filter((n) => n.startsWith(section)).join(', ')}`;
  return `${name}: unknown environment variable, no spanstat setting has this name (${hint})`;
}
