import { describe, expect, it } from 'vitest';
import { BoundedTable, OVERFLOW_LABEL, type RowFactory } from '../../src/aggregate/bounded-table';
import { TopK } from '../../src/aggregate/top-k';

interface Row {
  service: string;
  key: string;
  n: number;
}

interface Rec {
  service: string;
  key: string;
}

const make: RowFactory<Rec, Row> = (rec, overflow) =>
  overflow === null
    ? { service: rec.service, key: rec.key, n: 0 }
    : { service: overflow, key: '(other)', n: 0 };

function add(t: BoundedTable<Row>, service: string, key: string): Row {
  const row = t.upsert(service, key, service, { service, key }, make);
  row.n++;
  return row;
}

describe('BoundedTable', () => {
  it('sends new keys beyond the cap to the service overflow row and keeps totals exact', () => {
    const t = new BoundedTable<Row>(3);
    let total = 0;
    for (let i = 0; i < 50; i++) {
      add(t, 'api', `k${i % 10}`);
      total++;
    }
    expect(t.size).toBe(3);
    const rows = [...t.rows()];
    expect(rows).toHaveLength(4);
    expect(rows.reduce((s, r) => s + r.n, 0)).toBe(total);
    const overflow = rows.find((r) => r.key === '(other)');
    expect(overflow).toMatchObject({ service: 'api', n: 35 });
    expect(t.overflowRecords).toBe(35);
  });

  it('keeps counting keys admitted before the cap in their own rows', () => {
    const t = new BoundedTable<Row>(1);
    add(t, 'api', 'a');
    add(t, 'api', 'b');
    add(t, 'api', 'a');
    expect(t.get('api', 'a')?.n).toBe(2);
    expect(t.get('api', 'b')).toBeUndefined();
  });

  it('gives each service its own overflow row, then one shared (other) row', () => {
    const t = new BoundedTable<Row>(1, 2);
    add(t, 's0', 'x');
    for (const s of ['s1', 's2', 's3', 's4']) add(t, s, 'y');
    const services = [...t.rows()].map((r) => `${r.service}:${r.n}`);
    expect(services).toEqual(['s0:1', 's1:1', 's2:1', `${OVERFLOW_LABEL}:2`]);
  });

  it('finds the overflow row a refused key went to, and nothing for an unknown service', () => {
    const t = new BoundedTable<Row>(1);
    add(t, 'api', 'a');
    add(t, 'api', 'b');
    expect(t.find('api', 'b', 'api')?.key).toBe('(other)');
    expect(t.find('web', 'z', 'web')).toBeUndefined();
  });

  it('frees room when a row is deleted and moves a row to a new key', () => {
    const t = new BoundedTable<Row>(1);
    add(t, 'api', 'a');
    expect(t.rekey('api', 'a', 'b')).toBe(true);
    expect(t.get('api', 'b')?.n).toBe(1);
    expect(t.delete('api', 'b')).toBe(true);
    expect(t.size).toBe(0);
    add(t, 'api', 'c');
    expect(t.get('api', 'c')?.n).toBe(1);
  });
});

describe('TopK', () => {
  it('counts exactly while under capacity, largest first', () => {
    const top = new TopK(4);
    top.add('GET /a', 3);
    top.add('GET /b', 5);
    top.add('GET /a', 4);
    expect(top.top(5)).toEqual([
      { key: 'GET /a', count: 7 },
      { key: 'GET /b', count: 5 },
    ]);
  });

  it('keeps a heavy key among many light ones with a fixed number of counters', () => {
    const top = new TopK(4);
    for (let i = 0; i < 1000; i++) {
      top.add(`GET /light/${i}`, 1);
      if (i % 3 === 0) top.add('GET /heavy', 1);
    }
    expect(top.size).toBe(4);
    expect(top.top(1)[0].key).toBe('GET /heavy');
    expect(top.top(1)[0].count).toBeGreaterThanOrEqual(334);
  });

  it('merges the counts of two counters', () => {
    const a = new TopK(4);
    const b = new TopK(4);
    a.add('x', 2);
    b.add('x', 3);
    b.add('y', 1);
    a.merge(b);
    expect(a.top(2)).toEqual([
      { key: 'x', count: 5 },
      { key: 'y', count: 1 },
    ]);
  });
});
