import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { SpanstatError } from '../errors';
import { readEnvLayer } from './env';
import { configSchema, type SpanstatConfig } from './schema';

export interface LoadOptions {
  /** YAML file; absent means defaults plus environment. */
  file?: string;
  /** Environment to read SPANSTAT_* overrides from (process.env by default). */
  env?: NodeJS.ProcessEnv;
  /** Final overrides (CLI flags), as a partial config object. */
  overrides?: Record<string, unknown>;
  /** Dotted path → what set it among `overrides` (e.g. `'api.port': '--api-port'`), for error messages. */
  overrideNames?: Record<string, string>;
}

/**
 * Loads, validates and freezes the config: YAML file < SPANSTAT_* env < CLI overrides.
 * Errors name the field and where its value came from: the file (`config/spanstat.yaml: 'receiver.port' …`),
 * the variable (`SPANSTAT_API_PORT: 'api.port' …`) or the flag (`--mode: 'mode' …`).
 */
export function loadConfig(options: LoadOptions = {}): Readonly<SpanstatConfig> {
  const origins = new Map<string, string>();
  let raw: Record<string, unknown> = {};
  if (options.file) {
    raw = readYamlFile(options.file);
    checkFileAlone(options.file, raw);
    recordOrigins(raw, [], options.file, origins);
  }
  const envLayer = readEnvLayer(options.env ?? process.env);
  mergeDeep(raw, envLayer.values);
  for (const [path, name] of envLayer.origins) origins.set(path, name);
  if (options.overrides) {
    mergeDeep(raw, options.overrides);
    recordOrigins(options.overrides, [], 'command line', origins, options.overrideNames);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new SpanstatError(
      'SPANSTAT_ERR_CONFIG_INVALID',
      describeIssues(parsed.error, (path) => sourceOf(path, origins, options.file)),
    );
  return deepFreeze(parsed.data);
}

/**
 * The file's own mistakes (a wrong type, a value out of range, an unknown key) are named as the file's
 * even where a variable or a flag overrides the value. Rules across fields (a certificate needs its
 * key) are judged on the merged config only: the other half may come from the environment.
 */
function checkFileAlone(file: string, raw: Record<string, unknown>): void {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return;
  const own = parsed.error.issues.filter((issue) => issue.code !== 'custom');
  if (own.length > 0)
    throw new SpanstatError(
      'SPANSTAT_ERR_CONFIG_INVALID',
      describeIssues({ issues: own }, () => file),
    );
}

/** Records `source` (or its name in `names`) for every leaf `layer` sets. */
function recordOrigins(
  layer: Record<string, unknown>,
  path: string[],
  source: string,
  origins: Map<string, string>,
  names?: Record<string, string>,
): void {
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const keyPath = [...path, key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      recordOrigins(value as Record<string, unknown>, keyPath, source, origins, names);
    const dotted = keyPath.join('.');
    origins.set(dotted, names?.[dotted] ?? source);
  }
}

/** Where the value at `path` came from. */
function sourceOf(path: string, origins: Map<string, string>, file: string | undefined): string {
  return origins.get(path) ?? file ?? 'SPANSTAT_* environment / command line';
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

function describeIssues(error: Pick<z.ZodError, 'issues'>, sourceOf: (dottedPath: string) => string): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        const prefix = field ? `${field}.` : '';
        return `${sourceOf(prefix + issue.keys[0])}: unknown field ${issue.keys.map((k) => `'${prefix}${k}'`).join(', ')}`;
      }
      // A rule across fields may flag a field nobody set (a key missing beside its certificate): its
      // source is the field the rule names as the one set.
      const setBy =
        issue.code === 'custom' ? (issue.params as { setBy?: string } | undefined)?.setBy : undefined;
      const sourcePath = setBy === undefined ? field : [...issue.path.slice(0, -1), setBy].join('.');
      return `${sourceOf(sourcePath)}: '${field || '(top level)'}' ${issue.message}`;
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
