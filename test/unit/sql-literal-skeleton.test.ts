import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import { matchesSkeleton, SkeletonIndex, skeletonOf } from '../../src/sql/literal-skeleton';
import { literalSpans, type SqlDialect, scanSql } from '../../src/sql/sql-scanner';

const matches = (sample: string, text: string, dialect: SqlDialect = 'pg') =>
  matchesSkeleton(text, skeletonOf(sample, dialect, 0), dialect);

describe('matchesSkeleton', () => {
  it('matches texts that differ from the sample only inside their literals', () => {
    const sample = "SELECT a FROM t WHERE id = 42 AND s = 'x' AND d = E'q\\'' LIMIT 10";
    expect(matches(sample, sample)).toBe(true);
    expect(matches(sample, "SELECT a FROM t WHERE id = 7 AND s = 'it''s long' AND d = E'' LIMIT 3")).toBe(
      true,
    );
    expect(matches('UPDATE t SET v = $$a$$ WHERE k = 1.5e3', 'UPDATE t SET v = $$bb$$ WHERE k = 9')).toBe(
      true,
    );
  });

  it('does not match texts that differ outside literals, in spacing or in how a literal opens', () => {
    const sample = "SELECT a FROM t WHERE id = 42 AND s = 'x'";
    expect(matches(sample, "SELECT b FROM t WHERE id = 42 AND s = 'x'")).toBe(false);
    expect(matches(sample, "SELECT a FROM t WHERE id = 42 AND s = 'x' ")).toBe(false);
    expect(matches(sample, "SELECT a  FROM t WHERE id = 42 AND s = 'x'")).toBe(false);
    expect(matches(sample, "SELECT a FROM t WHERE id = '42' AND s = 'x'")).toBe(false);
    expect(matches(sample, 'SELECT a FROM t WHERE id = 42 AND s = 5')).toBe(false);
    expect(matches(sample, 'SELECT a FROM t WHERE id = 42 AND s = ')).toBe(false);
    // A digit where the sample's identifier ended reads as part of the identifier, not as a literal.
    expect(matches("SELECT ab'x'", 'SELECT ab5')).toBe(false);
  });

  it('never matches a text whose canonical form differs from the sample (random texts, every dialect)', () => {
    const rand = seededRandom(5);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
    const atoms = [
      "'",
      '"',
      '`',
      '$',
      '$$',
      '$t$',
      '?',
      '-',
      '--',
      '#',
      '/',
      '/*',
      '*/',
      '.',
      '.5',
      '1',
      'e',
    ];
    atoms.push('E', "E'", "B'", "x'", "N'", "U&'", 'U&', '&', ' ', '\n', 'ü', 'a', 'b1', 'x$y', '(', ',');
    atoms.push('=', '1e-5', '0x1F', '\\', "''", '$1', "'a'", '42', "E'x'", '$q$z$q$');
    const literals = [
      '0',
      '123',
      '.5',
      '1e3',
      "'x'",
      "'a''b'",
      "E'q'",
      '$$d$$',
      '?',
      '"m"',
      "U&'u'",
      "'",
      '1a',
    ];
    let matched = 0;
    for (let t = 0; t < 4000; t++) {
      let sample = '';
      for (let i = 1 + Math.floor(rand() * 12); i > 0; i--) sample += pick(atoms);
      for (const dialect of ['pg', 'mysql', 'generic'] as const) {
        const skeleton = skeletonOf(sample, dialect, 0);
        const spans = literalSpans(sample, dialect);
        for (let v = 0; v < 3; v++) {
          let text = '';
          let from = 0;
          for (let k = 0; k < spans.length; k += 2) {
            text +=
              sample.slice(from, spans[k]) +
              (rand() < 0.5 ? sample.slice(spans[k], spans[k + 1]) : pick(literals));
            from = spans[k + 1];
          }
          text += sample.slice(from);
          if (rand() < 0.3) {
            const at = Math.floor(rand() * (text.length + 1));
            text = text.slice(0, at) + pick(atoms) + text.slice(at + (rand() < 0.5 ? 1 : 0));
          }
          if (matchesSkeleton(text, skeleton, dialect)) {
            matched++;
            expect(scanSql(text, dialect), JSON.stringify({ sample, text, dialect })).toBe(
              scanSql(sample, dialect),
            );
          }
        }
      }
    }
    // Both outcomes must be common, or the test proves nothing.
    expect(matched).toBeGreaterThan(10_000);
    expect(matched).toBeLessThan(30_000);
  });
});

describe('SkeletonIndex', () => {
  it('finds the sample a text matches, by long and by short heads', () => {
    const index = new SkeletonIndex<string>('pg', 100);
    const long = skeletonOf('SELECT a, b FROM orders WHERE id = 1', 'pg', 'long');
    const other = skeletonOf('SELECT a, b FROM orders WHERE ref = 1', 'pg', 'other');
    const short = skeletonOf('SELECT 1', 'pg', 'short');
    for (const s of [long, other, short]) index.add(s);
    expect(index.find('SELECT a, b FROM orders WHERE id = 77')?.value).toBe('long');
    expect(index.find('SELECT a, b FROM orders WHERE ref = 77')?.value).toBe('other');
    expect(index.find('SELECT 2')?.value).toBe('short');
    expect(index.find('SELECT a, b FROM orders WHERE x = 77')).toBeUndefined();
    expect(index.has(other)).toBe(true);
    index.remove(other);
    expect(index.has(other)).toBe(false);
    expect(index.find('SELECT a, b FROM orders WHERE ref = 77')).toBeUndefined();
  });

  it('keeps the newest samples of one head', () => {
    const index = new SkeletonIndex<number>('pg', 100);
    const all = Array.from({ length: 12 }, (_, i) =>
      skeletonOf(`SELECT a FROM some_table WHERE c${i} = 1`, 'pg', i),
    );
    for (const s of all) index.add(s);
    expect(index.has(all[0])).toBe(false);
    expect(index.has(all[11])).toBe(true);
    expect(index.find('SELECT a FROM some_table WHERE c11 = 5')?.value).toBe(11);
  });
});
