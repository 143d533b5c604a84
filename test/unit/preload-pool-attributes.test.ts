import { describe, expect, it } from 'vitest';
import { checkoutWaits, poolAttributes } from '../../src/preload/pg-pool-connect';

const connect = () => undefined;

describe('pool connect span attributes', () => {
  it('carries the pool size and the clients in use at checkout', () => {
    const pool = {
      options: { max: 10, host: 'db', port: 5432, database: 'shop' },
      totalCount: 7,
      idleCount: 2,
      connect,
    };
    expect(poolAttributes(pool)).toEqual({
      'db.system.name': 'postgresql',
      'db.namespace': 'shop',
      'server.address': 'db',
      'server.port': 5432,
      'spanstat.pool.max': 10,
      'spanstat.pool.in_use': 5,
    });
  });

  it('reads address and database from a connection string, never the password', () => {
    const pool = {
      options: { max: 4, connectionString: 'postgres://app:s3cret@10.0.0.5:6432/orders' },
      totalCount: 0,
      idleCount: 0,
      connect,
    };
    const attributes = poolAttributes(pool);
    expect(attributes).toMatchObject({
      'server.address': '10.0.0.5',
      'server.port': 6432,
      'db.namespace': 'orders',
    });
    expect(JSON.stringify(attributes)).not.toContain('s3cret');
  });

  it('falls back to the pool internals on pg-pool versions without the count getters', () => {
    const pool = { options: { max: 3 }, _clients: [1, 2, 3], _idle: [1], connect };
    expect(poolAttributes(pool)['spanstat.pool.in_use']).toBe(2);
  });

  it('follows the counts as they change on the same pool', () => {
    const pool = { options: { max: 2 }, totalCount: 1, idleCount: 1, connect };
    expect(poolAttributes(pool)['spanstat.pool.in_use']).toBe(0);
    pool.idleCount = 0;
    expect(poolAttributes(pool)['spanstat.pool.in_use']).toBe(1);
  });
});

describe('which pool checkouts get a connect span', () => {
  const pool = (idleCount: number, waitingCount: number) => ({ idleCount, waitingCount, connect });

  it('skips a checkout that an idle client answers at once', () => {
    expect(checkoutWaits(pool(2, 0))).toBe(false);
    expect(checkoutWaits(pool(3, 2))).toBe(false);
  });

  it('keeps a checkout that must queue or open a connection', () => {
    expect(checkoutWaits(pool(0, 0))).toBe(true);
    expect(checkoutWaits(pool(2, 2))).toBe(true);
    expect(checkoutWaits(pool(0, 5))).toBe(true);
  });

  it('reads pg-pool internals when the count getters are missing, and keeps the span when both are unknown', () => {
    expect(checkoutWaits({ _idle: [1], _pendingQueue: [], connect })).toBe(false);
    expect(checkoutWaits({ _idle: [], _pendingQueue: [], connect })).toBe(true);
    expect(checkoutWaits({ connect })).toBe(true);
  });
});
