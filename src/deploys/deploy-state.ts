/**
 * The deploy tracker's state as the state file keeps it (`state.file`, src/sidecar/state-file.ts): per
 * service its version history, current, previous and baseline version, and the route figures of the
 * current version and of the baseline — numbers, fingerprints and normalized statements (cut short), as
 * `GET /api/v1/deploys` and the advice already show them; never a literal. The schema bounds every array
 * by the tracker's own caps and every number to a finite, non-negative value, so a hand-edited file cannot
 * feed NaN or a million routes into the advisor. Pure: no I/O.
 */
import { z } from 'zod';
import {
  MAX_SERVICES,
  MAX_STATE_STATEMENT_CHARS,
  MAX_VERSIONS_PER_SERVICE,
  type VersionEntry,
} from './deploy-tracker';
import { MAX_PROFILED_ROUTES, MAX_STATEMENTS_SHOWN, type RouteFigures } from './version-profile';

/** Route figures of one version, read at its `lastSeenMs`: what it served last, as the tracker reads a baseline. */
export interface VersionFiguresSnapshot {
  version: string;
  routes: RouteFigures[];
}

export interface ServiceSnapshot {
  service: string;
  currentVersion: string;
  previousVersion: string | null;
  baselineVersion: string | null;
  versions: VersionEntry[];
  /** The current version's and the baseline's (one entry when they are the same version). */
  figures: VersionFiguresSnapshot[];
  /** Normalized statements of the fingerprints in `figures`, flattened and cut to MAX_STATE_STATEMENT_CHARS. */
  statements: Record<string, string>;
}

export interface DeploysSnapshot {
  services: ServiceSnapshot[];
}

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const figure = z.number().min(0).max(Number.MAX_SAFE_INTEGER);
const name = (max: number) => z.string().min(1).max(max);
/** Fingerprints are libpg-query's 16 hex digits or a short name of the fallback; 128 bounds either. */
const fingerprint = name(128);

const routeFiguresSchema = z
  .object({
    method: name(64),
    route: name(4096),
    requests: count,
    p95Ms: figure,
    p99Ms: figure,
    queriesPerRequest: figure,
    dbMsPerRequest: figure,
    errorRate: z.number().min(0).max(1),
    statements: z
      .array(z.object({ fingerprint, callsPerRequest: figure, msPerRequest: figure }).strict())
      .max(MAX_STATEMENTS_SHOWN),
  })
  .strict();

const versionEntrySchema = z
  .object({
    version: name(256),
    firstSeenMs: ms,
    lastSeenMs: ms,
    requests: count,
    deployedAtMs: ms,
  })
  .strict();

const serviceSchema = z
  .object({
    service: name(1024),
    currentVersion: name(256),
    previousVersion: name(256).nullable(),
    baselineVersion: name(256).nullable(),
    versions: z.array(versionEntrySchema).min(1).max(MAX_VERSIONS_PER_SERVICE),
    figures: z
      .array(
        z
          .object({ version: name(256), routes: z.array(routeFiguresSchema).max(MAX_PROFILED_ROUTES) })
          .strict(),
      )
      .max(2),
    statements: z
      .record(fingerprint, z.string().max(MAX_STATE_STATEMENT_CHARS))
      .refine(
        (s) => Object.keys(s).length <= 2 * MAX_PROFILED_ROUTES * MAX_STATEMENTS_SHOWN,
        'too many statements',
      ),
  })
  .strict()
  .superRefine((s, ctx) => {
    const known = new Set(s.versions.map((v) => v.version));
    if (known.size !== s.versions.length)
      ctx.addIssue({ code: 'custom', path: ['versions'], message: 'a version is listed twice' });
    for (const key of ['currentVersion', 'baselineVersion'] as const) {
      const v = s[key];
      if (v !== null && !known.has(v))
        ctx.addIssue({ code: 'custom', path: [key], message: `'${v}' is not among versions` });
    }
    for (const [i, f] of s.figures.entries())
      if (f.version !== s.currentVersion && f.version !== s.baselineVersion)
        ctx.addIssue({
          code: 'custom',
          path: ['figures', i, 'version'],
          message: 'figures are kept for the current version and the baseline only',
        });
  });

export const deploysSnapshotSchema = z
  .object({
    services: z
      .array(serviceSchema)
      .max(MAX_SERVICES)
      .refine(
        (list) => new Set(list.map((s) => s.service)).size === list.length,
        'a service is listed twice',
      ),
  })
  .strict();
