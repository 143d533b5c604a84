/**
 * The recommendation store as the state file keeps it (`state.file`, src/sidecar/state-file.ts): every entry
 * as `GET /api/v1/recommendations` shows it — id, kind, severity, target, title, evidence, action, first and
 * last seen, state. The rules write no literal into any of them (normalized statements, key patterns with
 * `*` for ids, numbers), so neither does the file. The schema bounds every field and keeps to the store's
 * vocabulary, so a hand-edited file cannot feed it NaN, an unknown kind or a million entries. Pure: no I/O.
 */
import { z } from 'zod';
import { RECOMMENDATION_KINDS, type Recommendation, SEVERITIES, STATES } from './types';

export interface RecommendationsSnapshot {
  entries: Recommendation[];
}

/** More than any store holds in practice (advisor.maxRecommendations, 1000); the store keeps its own cap. */
export const MAX_SNAPSHOT_ENTRIES = 100_000;
/** Statements are parsed up to sql.maxParseBytes (64 KiB); texts quoting one stay well under this. */
const MAX_TEXT_CHARS = 1024 * 1024;

const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max);

const targetSchema = z
  .object({
    type: z.enum(['fingerprint', 'route', 'namespace', 'pool']),
    value: text(MAX_TEXT_CHARS).min(1),
    route: text(MAX_TEXT_CHARS).optional(),
    statement: text(MAX_TEXT_CHARS).optional(),
    table: text(4096).optional(),
    system: text(256).optional(),
    pool: text(4096).optional(),
  })
  .strict();

const evidenceValue = z.union([
  z.number(),
  text(MAX_TEXT_CHARS),
  z.boolean(),
  z.null(),
  z.array(text(MAX_TEXT_CHARS)).max(1000),
]);

const recommendationSchema = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/, 'is not a recommendation id (16 hex digits)'),
    kind: z.enum(RECOMMENDATION_KINDS),
    severity: z.enum(SEVERITIES),
    service: text(1024).min(1),
    target: targetSchema,
    title: text(MAX_TEXT_CHARS),
    evidence: z
      .record(text(256), evidenceValue)
      .refine((e) => Object.keys(e).length <= 200, 'too many evidence figures'),
    action: text(MAX_TEXT_CHARS),
    exampleTraceId: text(64).optional(),
    firstSeenMs: ms,
    lastSeenMs: ms,
    state: z.enum(STATES),
    resolvedAtMs: ms.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.lastSeenMs < r.firstSeenMs)
      ctx.addIssue({ code: 'custom', path: ['lastSeenMs'], message: 'is before firstSeenMs' });
    if ((r.state === 'resolved') !== (r.resolvedAtMs !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['resolvedAtMs'],
        message: 'is set on resolved recommendations, and only on them',
      });
  });

export const recommendationsSnapshotSchema = z
  .object({
    entries: z
      .array(recommendationSchema)
      .max(MAX_SNAPSHOT_ENTRIES)
      .refine((list) => new Set(list.map((r) => r.id)).size === list.length, 'an id is listed twice'),
  })
  .strict();
