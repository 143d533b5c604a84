import { describe, expect, it } from 'vitest';
import { hookActive, instancePoolAttributes } from '../../src/preload/postgres-js-pool';

const NAME = 'db.client.connection.pool.name';

describe("a postgres.js instance's pool attributes", () => {
  // Options as postgres.js resolves them (parseOptions): hosts and ports are arrays.
  const options = {
    host: ['db-1'],
    port: [5433],
    database: 'shop',
    connection: { application_name: 'postgres.js' },
  };

  it('names it as a pg pool is named: host:port/database, with its size, address and database', () => {
    expect(instancePoolAttributes(options, 4, {})).toEqual({
      'db.system.name': 'postgresql',
      [NAME]: 'db-1:5433/shop',
      'db.namespace': 'shop',
      'server.address': 'db-1',
      'server.port': 5433,
      'spanstat.pool.max': 4,
    });
  });

  it("adds the instance's own application_name, not postgres.js's default or PGAPPNAME", () => {
    const own = { ...options, connection: { application_name: 'jobs' } };
    expect(instancePoolAttributes(own, 4, {})[NAME]).toBe('db-1:5433/shop (jobs)');
    const fromEnv = { ...options, connection: { application_name: 'api' } };
    expect(instancePoolAttributes(fromEnv, 4, { PGAPPNAME: 'api' })[NAME]).toBe('db-1:5433/shop');
    expect(instancePoolAttributes(options, 4, {})[NAME]).toBe('db-1:5433/shop');
  });

  it('names every server of a multi-host URL, and a socket directory as its host', () => {
    const multi = { ...options, host: ['db-1', 'db-2'], port: [5432, 5433] };
    expect(instancePoolAttributes(multi, 10, {})[NAME]).toBe('db-1:5432,db-2:5433/shop');
    const socket = { ...options, host: ['/run/postgresql'], port: [5432] };
    expect(instancePoolAttributes(socket, 10, {})[NAME]).toBe('/run/postgresql:5432/shop');
  });
});

describe("the hook on a postgres.js query's active flag", () => {
  it('keeps the flag as it was set and reports each time it turns true', () => {
    // postgres.js's constructor assigns the flag (`this.active = false`), which the accessor takes.
    class Assigning {
      declare active: boolean;
      constructor() {
        this.active = false;
      }
    }
    const seen: object[] = [];
    hookActive(Assigning.prototype, (q) => seen.push(q));
    const q = new Assigning();
    expect([q.active, Object.keys(q)]).toEqual([false, []]);
    q.active = true;
    q.active = false;
    q.active = true;
    expect([q.active, seen.length, seen[0]]).toEqual([true, 2, q]);
    // A class with an `active` of its own on the prototype is left alone.
    const proto = {
      get active() {
        return 'own';
      },
    };
    hookActive(proto, () => {});
    expect(Object.getOwnPropertyDescriptor(proto, 'active')?.get?.call({})).toBe('own');
  });

  it('never lets a failing callback break the query', () => {
    class Assigning {
      declare active: boolean;
    }
    hookActive(Assigning.prototype, () => {
      throw new Error('boom');
    });
    const q = new Assigning();
    expect(() => {
      q.active = true;
    }).not.toThrow();
    expect(q.active).toBe(true);
  });
});
