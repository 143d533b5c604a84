import { beforeAll, describe, expect, it } from 'vitest';
import { NamespaceLearner } from '../../src/cache-keys/namespace-learner';
import { SpanClassifier } from '../../src/classify/classify-span';
import { knexPositionalBindings } from '../../src/classify/knex-bindings';
import { NestedDbCalls } from '../../src/classify/nested-db-calls';
import { DEFAULTS } from '../../src/config/defaults';
import type { ClassifiedSpan, DbCall } from '../../src/model/classified';
import { type DecodedSpan, SpanKind } from '../../src/model/span';
import { SqlFingerprinter } from '../../src/sql/fingerprinter';

let classifier: SpanClassifier;
beforeAll(async () => {
  const sql = await SqlFingerprinter.create(DEFAULTS.sql);
  classifier = new SpanClassifier(sql, new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }));
});

/** A DB span as instrumentation-knex (with `knex.version`) or instrumentation-pg sends it. */
function dbSpan(spanId: string, parentSpanId: string, text: string, knex: boolean): DecodedSpan {
  return {
    service: 'shop',
    traceId: 'a'.repeat(32),
    spanId,
    parentSpanId,
    name: knex ? 'first shop.orders' : 'pg.query:SELECT shop',
    kind: SpanKind.CLIENT,
    startMs: 0,
    durationMs: 1,
    statusCode: 0,
    attributes: {
      'db.system.name': 'postgresql',
      'db.query.text': text,
      ...(knex ? { 'knex.version': '3.3.0' } : {}),
    },
  };
}

const KNEX_TEXT = 'select * from "orders" where "id" = ? and "tags" \\?| ? limit ?';
const PG_TEXT = 'select * from "orders" where "id" = $1 and "tags" ?| $2 limit $3';

function classified(spans: DecodedSpan[]): ClassifiedSpan[] {
  const chunk = spans.map((s) => classifier.classify(s));
  new NestedDbCalls().unwrap(chunk, chunk.length);
  return chunk;
}

function dbCalls(chunk: ClassifiedSpan[]): DbCall[] {
  return chunk.filter((s): s is DbCall => s.type === 'db');
}

describe('knex spans', () => {
  it("number knex's placeholders as its PostgreSQL dialect does (escaped \\? stays an operator)", () => {
    expect(knexPositionalBindings(KNEX_TEXT)).toBe(PG_TEXT);
    expect(knexPositionalBindings('select 1')).toBe('select 1');
    // An even run of backslashes escapes itself: the ? is a placeholder, the backslashes go, as knex does.
    expect(knexPositionalBindings('a = \\\\? and b = \\\\\\?')).toBe('a = $1 and b = ?');
  });

  it("are read with the driver's numbered text, as a wrapper of exactly one driver call", () => {
    const knex = classifier.classify(dbSpan('1'.repeat(16), 'f'.repeat(16), KNEX_TEXT, true));
    const pg = classifier.classify(dbSpan('2'.repeat(16), '1'.repeat(16), PG_TEXT, false));
    if (knex.type !== 'db' || pg.type !== 'db') throw new Error('not DB calls');
    expect(knex.fingerprint).toBe(pg.fingerprint);
    expect(knex.statement).toBe(pg.statement);
    expect(knex).toMatchObject({ aroundDriver: true, wrapsOneCall: true, table: 'orders' });
    expect(pg).toMatchObject({ aroundDriver: false, wrapsOneCall: false });
  });

  it('count once with pg beneath them, whichever arrives first, even when knex cut its text', () => {
    // knex's maxQueryLength cuts long texts and appends `..`: the pair's fingerprints then differ.
    const cut = `${KNEX_TEXT.slice(0, 30)}..`;
    for (const knexText of [KNEX_TEXT, cut]) {
      const knex = dbSpan('1'.repeat(16), 'f'.repeat(16), knexText, true);
      const pg = dbSpan('2'.repeat(16), '1'.repeat(16), PG_TEXT, false);
      for (const order of [
        [knex, pg],
        [pg, knex],
      ]) {
        const chunk = classified(order);
        expect(dbCalls(chunk)).toHaveLength(1);
        const other = chunk.find((s) => s.type === 'other');
        // The dropped one hangs from the request side of the pair, so its trace still links up.
        expect(other?.parentSpanId).toBe('f'.repeat(16));
      }
    }
  });

  it('leave two driver calls of one trace, and a knex span without one beneath it, counted', () => {
    const chunk = classified([
      dbSpan('1'.repeat(16), 'f'.repeat(16), KNEX_TEXT, true),
      dbSpan('3'.repeat(16), 'f'.repeat(16), PG_TEXT, false),
      dbSpan('4'.repeat(16), 'f'.repeat(16), 'BEGIN;', false),
    ]);
    expect(dbCalls(chunk)).toHaveLength(3);
  });
});
