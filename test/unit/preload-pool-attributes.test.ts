import { describe, expect, it } from 'vitest';
import {
  checkoutWaits,
  poolAddress,
  poolApplicationName,
  poolAttributes,
  poolBaseAttributes,
} from '../../src/preload/pg-pool-connect';

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
      'db.client.connection.pool.name': 'db:5432/shop',
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
      'db.client.connection.pool.name': '10.0.0.5:6432/orders',
      'server.address': '10.0.0.5',
      'server.port': 6432,
      'db.namespace': 'orders',
    });
    expect(JSON.stringify(attributes)).not.toContain('s3cret');
    expect(JSON.stringify(attributes)).not.toContain('app');
  });

  it('names each pool by host:port/database, so a primary and a replica pool are two pools', () => {
    const primary = { options: { max: 10, connectionString: 'postgres://app:pw@db-1:5432/shop' }, connect };
    const replica = { options: { max: 4, host: 'db-2', database: 'shop' }, connect };
    const reports = { options: { max: 2, host: 'db-1', port: '5432', database: 'reports' }, connect };
    const names = [primary, replica, reports].map(
      (pool) => poolBaseAttributes(pool)['db.client.connection.pool.name'],
    );
    expect(names).toEqual(['db-1:5432/shop', 'db-2:5432/shop', 'db-1:5432/reports']);
    // Once per pool: the same object every time.
    expect(poolBaseAttributes(primary)).toBe(poolBaseAttributes(primary));
  });

  it("adds a pool's own application_name, so a web and a jobs pool to one database are two pools", () => {
    const web = { options: { max: 10, connectionString: 'postgres://app:pw@db-1:5432/shop' }, connect };
    const jobs = {
      options: { max: 3, connectionString: 'postgres://app:pw@db-1:5432/shop', application_name: 'jobs' },
      connect,
    };
    const fromUrl = {
      options: { connectionString: 'postgres://db-1/shop?application_name=mailer&sslmode=disable' },
      connect,
    };
    const blank = { options: { host: 'db-1', database: 'shop', application_name: '  ' }, connect };
    const long = { options: { host: 'db-1', database: 'shop', application_name: 'x'.repeat(80) }, connect };
    const names = [web, jobs, fromUrl, blank, long].map(
      (pool) => poolBaseAttributes(pool)['db.client.connection.pool.name'],
    );
    expect(names).toEqual([
      'db-1:5432/shop',
      'db-1:5432/shop (jobs)',
      'db-1:5432/shop (mailer)',
      'db-1:5432/shop',
      `db-1:5432/shop (${'x'.repeat(63)})`,
    ]);
  });

  it('leaves PGAPPNAME out of the name: it names every pool of the process alike', () => {
    const saved = process.env.PGAPPNAME;
    process.env.PGAPPNAME = 'whole-process';
    try {
      expect(poolApplicationName({ host: 'db-1' })).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.PGAPPNAME;
      else process.env.PGAPPNAME = saved;
    }
    expect(poolApplicationName({ connectionString: 'not a url', application_name: 'web' })).toBe('web');
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

describe('where a pool connects, as pg resolves it', () => {
  it('takes the connection string over the options, as pg does', () => {
    const options = { host: 'ignored', database: 'ignored', connectionString: 'postgresql://u@db:6000/app' };
    expect(poolAddress(options, {})).toEqual({ host: 'db', port: 6000, database: 'app' });
  });

  it('falls back to PGHOST, PGPORT and PGDATABASE, then to localhost:5432 without a database', () => {
    const env = { PGHOST: 'pg.internal', PGPORT: '6432', PGDATABASE: 'billing', PGUSER: 'who' };
    expect(poolAddress({}, env)).toEqual({ host: 'pg.internal', port: 6432, database: 'billing' });
    expect(poolAddress({ database: 'shop' }, env)).toEqual({
      host: 'pg.internal',
      port: 6432,
      database: 'shop',
    });
    // pg would connect to the database named like the user: left out, not guessed from the user.
    expect(poolAddress({}, { PGUSER: 'who' })).toEqual({
      host: 'localhost',
      port: 5432,
      database: undefined,
    });
  });

  it('reads socket directories from the connection string', () => {
    expect(poolAddress({ connectionString: 'postgres:///shop?host=/run/postgresql' }, {})).toEqual({
      host: '/run/postgresql',
      port: 5432,
      database: 'shop',
    });
    expect(poolAddress({ connectionString: 'socket:/run/postgresql?db=shop' }, {})).toEqual({
      host: '/run/postgresql',
      port: 5432,
      database: 'shop',
    });
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
