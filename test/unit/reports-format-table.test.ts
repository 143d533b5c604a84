import { describe, expect, it } from 'vitest';
import { ENDPOINT_COLUMNS, QUERY_COLUMNS, withService } from '../../src/reports/columns';
import { type Column, formatTable } from '../../src/reports/format-table';
import type { EndpointRow, QueryRow } from '../../src/reports/types';

interface Row {
  name: string;
  calls: number;
  ms: number | null;
}

describe('formatTable', () => {
  it('aligns text left and numbers right, two spaces apart, without trailing spaces', () => {
    const rows: Row[] = [
      { name: 'SELECT users', calls: 1200, ms: 3.25 },
      { name: 'INSERT', calls: 7, ms: null },
    ];
    const columns: Column<Row>[] = [
      { key: 'name', title: 'STATEMENT' },
      { key: 'calls', title: 'CALLS' },
      { key: 'ms', title: 'MS' },
    ];
    expect(formatTable(rows, columns)).toBe(
      ['STATEMENT     CALLS    MS', 'SELECT users   1200  3.25', 'INSERT            7     -'].join('\n'),
    );
  });

  it('honours explicit alignment, formatters and maximum widths', () => {
    const rows: Row[] = [{ name: 'SELECT * FROM a_very_long_table_name', calls: 3, ms: 0.5 }];
    const columns: Column<Row>[] = [
      { key: 'calls', title: 'N', align: 'left' },
      { key: 'ms', title: 'TIME', format: (v) => `${v} ms` },
      { key: 'name', title: 'SQL', maxWidth: 12 },
    ];
    // TIME holds numbers, so it stays right-aligned under a formatter.
    expect(formatTable(rows, columns)).toBe(['N    TIME  SQL', '3  0.5 ms  SELECT * FR…'].join('\n'));
    // --wide: nothing is cut.
    expect(formatTable(rows, columns, { wide: true })).toBe(
      ['N    TIME  SQL', '3  0.5 ms  SELECT * FROM a_very_long_table_name'].join('\n'),
    );
  });

  it('prints only the header for no rows', () => {
    expect(
      formatTable([] as Row[], [
        { key: 'name', title: 'NAME' },
        { key: 'calls', title: 'CALLS' },
      ]),
    ).toBe('NAME  CALLS');
  });

  it('keeps a cell with a newline on one line', () => {
    const rows: Row[] = [{ name: 'SELECT\n  1', calls: 1, ms: 1 }];
    expect(formatTable(rows, [{ key: 'name', title: 'SQL' }])).toBe('SQL\nSELECT 1');
  });

  it('prints the query column set', () => {
    const row: QueryRow = {
      service: 'api',
      system: 'postgresql',
      fingerprint: 'f1',
      statement: 'SELECT * FROM users WHERE id = $1',
      operation: 'SELECT',
      table: 'users',
      calls: 1520,
      errors: 2,
      totalMs: 18_240.5,
      meanMs: 12.0003,
      p50Ms: 8.1,
      p95Ms: 40.25,
      p99Ms: 95.5,
      maxMs: 210,
      shareOfDbTime: 0.6123,
      topEndpoints: [
        { endpoint: 'GET /users/:id', calls: 1400 },
        { endpoint: 'GET /me', calls: 120 },
      ],
      exampleTraceId: 'abc',
      maxCallsPerRequest: 12,
    };
    expect(formatTable([row], withService(QUERY_COLUMNS))).toBe(
      [
        'SERVICE  TOTAL ms    DB%  CALLS  MEAN ms  P95 ms  P99 ms  ERR  MAX/REQ  TOP ENDPOINT       STATEMENT',
        'api         18241  61.2%   1520     12.0    40.3    95.5    2       12  GET /users/:id +1  SELECT * FROM users WHERE id = $1',
      ].join('\n'),
    );
  });

  it('prints the endpoint column set', () => {
    const row: EndpointRow = {
      service: 'api',
      method: 'GET',
      route: '/users/:id',
      requests: 300,
      errors: 3,
      errorRate: 0.01,
      serverErrors: 1,
      rps: 5,
      p50Ms: 20,
      p95Ms: 180.4,
      p99Ms: 1250,
      maxMs: 2000,
      dbMsPerRequest: 12.5,
      cacheMsPerRequest: 0.42,
      otherMsPerRequest: 7,
      poolWaitMsPerRequest: 0,
      queriesPerRequest: 3.5,
      cacheOpsPerRequest: 1,
      exampleTraceId: 't',
    };
    expect(formatTable([row], ENDPOINT_COLUMNS)).toBe(
      [
        'METHOD  ROUTE       REQS   RPS  ERR%  P50 ms  P95 ms  P99 ms  DB ms/req  CACHE ms/req  OTHER ms/req  Q/REQ',
        'GET     /users/:id   300  5.00  1.0%    20.0   180.4    1250       12.5          0.42          7.00   3.50',
      ].join('\n'),
    );
  });
});
