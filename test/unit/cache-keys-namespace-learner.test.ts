import { describe, expect, it } from 'vitest';
import { isIdLikeSegment, NamespaceLearner, type NamespaceLearnerOptions } from '../../src/cache-keys';

function learner(opts: Partial<NamespaceLearnerOptions> = {}): NamespaceLearner {
  return new NamespaceLearner({
    delimiters: ':',
    learnDistinct: 8,
    patterns: [],
    maxLearnedPrefixes: 10_000,
    ...opts,
  });
}

describe('isIdLikeSegment', () => {
  it('recognises numbers, UUIDs, hex, e-mails, tokens, URLs and very long segments', () => {
    const ids = [
      '42',
      '-7',
      '9f8e7d6c-1234-4abc-9def-0123456789ab',
      'deadbeef01',
      'alice@example.com',
      'AbX9kQ',
      'AbXkQzPwRt',
      'dGVzdA==',
      '/api/items?page=3',
      '2026-11-05',
      'user17',
      'x'.repeat(41),
    ];
    for (const s of ids) expect(isIdLikeSegment(s), s).toBe(true);
  });

  it('keeps names, short versions, slugs and camelCase words', () => {
    for (const s of [
      'user',
      'profile',
      'v2',
      'blue-widget',
      'recentlyViewed',
      'getUserById',
      'JSONData',
      'rate_limit',
      '',
    ]) {
      expect(isIdLikeSegment(s), s).toBe(false);
    }
  });
});

describe('NamespaceLearner.namespaceOf', () => {
  it('replaces id parts of real key schemes with *', () => {
    const l = learner();
    const cases: Array<[string, string]> = [
      ['user:42:profile', 'user:*:profile'],
      ['session:9f8e7d6c-1234-4abc-9def-0123456789ab', 'session:*'],
      ['rate:alice@example.com', 'rate:*'],
      ['cart:AbX9kQ', 'cart:*'],
      ['feed:v2:user:17', 'feed:v2:user:*'],
      ['cache:/api/items?page=3', 'cache:*'],
      ['leaderboard', 'leaderboard'],
      ['12345', '*'],
      ['product:blue-widget', 'product:blue-widget'],
    ];
    for (const [key, ns] of cases) expect(l.namespaceOf(key), key).toBe(ns);
  });

  it('widens a position after more than learnDistinct distinct values and announces each merge', () => {
    const l = learner({ learnDistinct: 3 });
    const merges: Array<[string, string]> = [];
    l.onMerge((from, to) => merges.push([from, to]));
    for (const slug of ['blue-widget', 'red-widget', 'green-gadget']) {
      expect(l.namespaceOf(`product:${slug}`)).toBe(`product:${slug}`);
      l.namespaceOf(`product:${slug}:reviews`);
    }
    expect(merges).toEqual([]);
    expect(l.namespaceOf('product:yellow-thing')).toBe('product:*');
    expect(merges).toEqual([
      ['product:blue-widget', 'product:*'],
      ['product:blue-widget:reviews', 'product:*:reviews'],
      ['product:red-widget', 'product:*'],
      ['product:red-widget:reviews', 'product:*:reviews'],
      ['product:green-gadget', 'product:*'],
      ['product:green-gadget:reviews', 'product:*:reviews'],
    ]);
    // From now on every value at that position is *, including the ones seen before.
    expect(l.namespaceOf('product:blue-widget')).toBe('product:*');
    expect(l.namespaceOf('product:orange:reviews')).toBe('product:*:reviews');
  });

  it('widens deeper positions when merged prefixes bring too many values together', () => {
    const l = learner({ learnDistinct: 2 });
    const merges: string[] = [];
    l.onMerge((from, to) => merges.push(`${from}->${to}`));
    l.namespaceOf('doc:alpha:one');
    l.namespaceOf('doc:beta:two');
    l.namespaceOf('doc:gamma'); // third value under doc: widens, merging alpha and beta
    expect(l.namespaceOf('doc:delta:one')).toBe('doc:*:one');
    expect(merges).toContain('doc:alpha:one->doc:*:one');
    expect(merges).toContain('doc:beta:two->doc:*:two');
    l.namespaceOf('doc:x:three'); // doc:*:{one,two,three} is more than 2 values: widens
    expect(l.namespaceOf('doc:y:four')).toBe('doc:*:*');
    expect(merges).toContain('doc:*:one->doc:*:*');
  });

  it('never widens first segments by count but caps how many are shown', () => {
    const l = learner({ learnDistinct: 2 }); // cap: 16 first segments
    const names = Array.from({ length: 16 }, (_, i) => `name${String.fromCharCode(97 + i)}`);
    for (const n of names) expect(l.namespaceOf(`${n}:x`)).toBe(`${n}:x`);
    expect(l.namespaceOf('another:x')).toBe('*:x');
    expect(l.namespaceOf(`${names[0]}:x`)).toBe(`${names[0]}:x`);
  });

  it('lets configured patterns win over learning, with * as one segment and ** as the rest', () => {
    const l = learner({ patterns: ['user:*:profile', 'blob:**', 'slug:*'] });
    expect(l.namespaceOf('user:42:profile')).toBe('user:*:profile');
    expect(l.namespaceOf('user:me:profile')).toBe('user:*:profile');
    expect(l.namespaceOf('user:42:other:profile')).toBe('user:*:other:profile'); // no match: learned
    expect(l.namespaceOf('blob:a:b:c')).toBe('blob:**');
    expect(l.namespaceOf('slug:blue-widget')).toBe('slug:*');
  });

  it("names keys that are SQL text (TypeORM's query-result cache) as one namespace, whatever colons they hold", () => {
    // Keys as TypeORM 1.1's RedisQueryResultCache wrote them for find({ cache }) and a QueryBuilder's .cache().
    const sql =
      'SELECT "User"."id" AS "User_id", "User"."email" AS "User_email" FROM "users" "User" ' +
      'WHERE ( (("User"."email" = $1)) ) AND ( "User"."deleted_at" IS NULL ) LIMIT 1';
    const keys = [
      `${sql} -- PARAMETERS: ["alice@example.com"]`,
      `${sql} -- PARAMETERS: ["en:gb:london"]`,
      'SELECT "o"."id" AS "o_id" FROM "orders" "o" WHERE "o"."status" = $1 AND "o"."id" < $2 -- PARAMETERS: ["st0",50]',
      'SELECT "e"."at" AS "e_at" FROM "events" "e" WHERE "e"."at" > $1::timestamptz -- PARAMETERS: ["2024-01-01T10:00:00.000Z"]',
      // As the preload sends a long one: cut to 256 characters, the parameters gone.
      `${sql.repeat(3)} -- PARAMETERS: ["x"]`.slice(0, 256),
      'WITH "recent" AS (SELECT 1) SELECT * FROM recent -- PARAMETERS: []',
    ];
    const l = learner();
    for (const key of keys) {
      expect(l.namespaceOf(key), key).toBe('(sql query cache)');
      // As the preload sends it: whitespace as `_`, so the key stays one word of the statement.
      expect(l.namespaceOf(key.replace(/\s/g, '_')), key).toBe('(sql query cache)');
    }
    // Not before a configured pattern, and not for keys that merely start with the word.
    expect(learner({ patterns: ['SELECT**'] }).namespaceOf(keys[0])).toBe('SELECT**');
    expect(l.namespaceOf('SELECT:42')).toBe('SELECT:*');
    expect(l.namespaceOf('SELECT_OPTIONS_FOR_FORM:checkout')).toBe('SELECT_OPTIONS_FOR_FORM:checkout');
    expect(l.namespaceOf('selection:of:the:week:2024')).toBe('selection:of:the:week:*');
  });

  it('splits on every delimiter character and keeps each key’s own delimiters', () => {
    const l = learner({ delimiters: ':/.' });
    expect(l.namespaceOf('img/thumb/123.png')).toBe('img/thumb/*.png');
    expect(l.namespaceOf('cfg.flags')).toBe('cfg.flags');
  });

  it('summarises segments past the eighth as **', () => {
    expect(learner().namespaceOf('a:b:c:d:e:f:g:h:i:j')).toBe('a:b:c:d:e:f:g:**');
  });

  it('stays within maxLearnedPrefixes and falls back to the first segment', () => {
    const l = learner({ maxLearnedPrefixes: 10, learnDistinct: 1000 });
    l.namespaceOf('known:x');
    for (let i = 0; i < 100; i++) {
      l.namespaceOf(
        `known:slug-${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`,
      );
      expect(l.learnedPrefixes).toBeLessThanOrEqual(10);
    }
    expect(l.namespaceOf('known:brand-new')).toBe('known:*');
    expect(l.namespaceOf('unseen:thing')).toBe('*:*');
    expect(l.namespaceOf('known:x')).toBe('known:x');
  });

  it('frees trie nodes when widening merges them', () => {
    const l = learner({ learnDistinct: 4 });
    for (const s of ['aa', 'bb', 'cc', 'dd']) l.namespaceOf(`p:${s}:leaf`);
    const before = l.learnedPrefixes;
    l.namespaceOf('p:ee:leaf');
    expect(l.learnedPrefixes).toBeLessThan(before);
    expect(l.learnedPrefixes).toBe(3); // p, p:*, p:*:leaf
  });

  it('stops notifying a listener after it unsubscribes', () => {
    const l = learner({ learnDistinct: 1 });
    let calls = 0;
    const off = l.onMerge(() => calls++);
    l.namespaceOf('t:a');
    off();
    l.namespaceOf('t:b');
    expect(calls).toBe(0);
    expect(l.namespaceOf('t:a')).toBe('t:*');
  });
});
