import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { SpanstatError } from '../errors';
import { parseKeyValues } from '../key-values';
import { configSchema, type SpanstatConfig } from './schema';

export interface LoadOptions {
  /** YAML file; absent means defaults plus environment. */
  file?: string;
  /** Environment to read SPANSTAT_* overrides from (process.env by default). */
  env?: NodeJS.ProcessEnv;
  /** Final overrides (CLI flags), as a partial config object. */
  overrides?: Record<string, unknown>;
}

/**
 * Loads, validates and freezes the config: YAML file < SPANSTAT_* env < CLI overrides.
 * Errors name the file and the dotted field, e.g. `config/spanstat.yaml: 'receiver.port' …`.
 */
export function loadConfig(options: LoadOptions = {}): Readonly<SpanstatConfig> {
  const env = options.env ?? process.env;
  // Without a file, a bad value came from a SPANSTAT_* variable or a CLI flag, not from the defaults.
  const source = options.file ?? 'SPANSTAT_* environment / command line';
  let raw: Record<string, unknown> = {};
  if (options.file) raw = readYamlFile(options.file);
  applyEnvOverrides(raw, env);
  if (options.overrides) mergeDeep(raw, options.overrides);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new SpanstatError('SPANSTAT_ERR_CONFIG_INVALID', describeIssues(source, parsed.error));
  return deepFreeze(parsed.data);
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpanstatError('SPANSTAT_ERR_CONFIG_READ', `${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SpanstatError('SPANSTAT_ERR_CONFIG_YAML', `${file}: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SpanstatError(
      'SPANSTAT_ERR_CONFIG_INVALID',
      `${file}: the top level must be a mapping of sections`,
    );
  }
  return doc as Record<string, unknown>;
}

/** `SPANSTAT_RECEIVER_PORT=4319` → receiver.port = 4319; names are the schema's keys in SNAKE_CASE. */
function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const shape = configSchema.shape as Record<string, z.ZodType>;
  for (const [section, sectionSchema] of Object.entries(shape)) {
    const inner = unwrapObjectShape(sectionSchema);
    if (!inner) {
      const value = env[`SPANSTAT_${toSnake(section)}`];
      if (value !== undefined) target[section] = coerce(value);
      continue;
    }
    for (const key of Object.keys(inner)) {
      const name = `SPANSTAT_${toSnake(section)}_${toSnake(key)}`;
      const value = env[name];
      if (value === undefined) continue;
      if (target[section] === undefined) target[section] = {};
      const sectionValue = target[section] as Record<string, unknown>;
      if (typeof sectionValue !== 'object') continue;
      sectionValue[key] = envValue(key, value);
    }
  }
}

function unwrapObjectShape(schema: z.ZodType): Record<string, unknown> | undefined {
  let current: unknown = schema;
  for (let i = 0; i < 5 && current; i++) {
    const def = (current as { def?: { shape?: Record<string, unknown>; innerType?: unknown } }).def;
    if (def?.shape) return def.shape;
    current = def?.innerType;
  }
  return undefined;
}

/** A variable's value as its key takes it: lists comma-separated, numbers and booleans as such. */
function envValue(key: string, value: string): unknown {
  if (key === 'patterns') return value.split(',').filter(Boolean);
  // The OTEL_EXPORTER_OTLP_HEADERS form, k=v,k2=v2 (entries without a key are skipped).
  if (key === 'headers') return parseKeyValues(value, key, []);
  return coerce(value);
}

function toSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function coerce(value: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

function mergeDeep(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const existing = target[key];
    if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      existing &&
      typeof existing === 'object'
    ) {
      mergeDeep(existing as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      target[key] = value;
    }
  }
}

function describeIssues(source: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
        return `${source}: unknown field ${issue.keys.map((k) => `'${prefix}${k}'`).join(', ')}`;
      }
      return `${source}: '${field}' ${issue.message}`;
    })
    .join('; ');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
