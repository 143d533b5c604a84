import { describe, expect, it } from 'vitest';
import { EACH_TABLE_NOTE, templateFinding } from '../../src/advise/templated-finding';
import type { IndexFinding } from '../../src/advise/types';

describe('a finding checked on one tenant’s statement', () => {
  const finding: IndexFinding = {
    service: 'shop-7',
    fingerprint: 'a1b2c3d4e5f60718',
    checked: true,
    error: 'relation "tenant_42.items" does not exist',
    columns: [{ table: { schema: 'tenant_42', name: 'orders' }, column: 'customer_id', use: 'eq' }],
    proposals: [
      {
        table: 'tenant_42.orders',
        columns: ['customer_id'],
        statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON tenant_42.orders (customer_id);',
        tableRows: 60_000,
        existingIndexes: ['orders_pkey (id) unique', 'tenant_42_orders_total_idx (total)'],
        plan: { method: 'generic-plan', seqScan: true, totalCost: 1200, shape: 'Seq Scan on orders' },
      },
    ],
    skipped: [{ table: 'tenant_42.items', reason: 'unknown-table', detail: 'not found in the database' }],
  };

  it('names its tables with the id parts as *, says to create the index in each, and keeps ids of its own', () => {
    const templated = templateFinding(finding);
    expect(JSON.stringify(templated)).not.toContain('42');
    expect(templated).toMatchObject({
      service: 'shop-7',
      fingerprint: 'a1b2c3d4e5f60718',
      error: 'relation "tenant_*.items" does not exist',
      columns: [{ table: { schema: 'tenant_*', name: 'orders' }, column: 'customer_id' }],
      proposals: [
        {
          table: 'tenant_*.orders',
          statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON tenant_*.orders (customer_id);',
          tableRows: 60_000,
          existingIndexes: ['orders_pkey (id) unique', 'tenant_*_orders_total_idx (total)'],
          note: EACH_TABLE_NOTE,
        },
      ],
      skipped: [{ table: 'tenant_*.items' }],
    });
  });
});

describe('a templated finding on a numbered column', () => {
  it('keeps the column, in the index name too, and templates the tables', () => {
    const finding: IndexFinding = {
      service: 'shop',
      fingerprint: 'f1e2d3c4b5a69788',
      checked: true,
      columns: [{ table: { schema: 'tenant_42', name: 'customers' }, column: 'address_line_1', use: 'eq' }],
      proposals: [
        {
          table: 'tenant_42.customers_7',
          columns: ['address_line_1'],
          statement:
            'CREATE INDEX CONCURRENTLY customers_7_address_line_1_idx ON tenant_42.customers_7 (address_line_1);',
          tableRows: 9_000,
          existingIndexes: ['customers_7_pkey (id) unique'],
          note: 'filters on address_line_1 in tenant_42',
        },
      ],
      skipped: [],
    };
    const templated = templateFinding(finding);
    expect(JSON.stringify(templated)).not.toMatch(/42|_7/);
    expect(templated).toMatchObject({
      columns: [{ table: { schema: 'tenant_*', name: 'customers' }, column: 'address_line_1' }],
      proposals: [
        {
          table: 'tenant_*.customers_*',
          columns: ['address_line_1'],
          statement:
            'CREATE INDEX CONCURRENTLY customers_*_address_line_1_idx ON tenant_*.customers_* (address_line_1);',
          existingIndexes: ['customers_*_pkey (id) unique'],
          note: `filters on address_line_1 in tenant_*; ${EACH_TABLE_NOTE}`,
        },
      ],
    });
  });
});
