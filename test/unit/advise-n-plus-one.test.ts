import { describe, expect, it } from 'vitest';
import { evaluate, evaluateDetailed } from '../../src/advise/evaluate';
import { recommendationId } from '../../src/advise/ids';
import { batchedStatement } from '../../src/advise/rules/n-plus-one';
import { endpointQueryRow, input, SERVICE, thresholds } from './advise-fixtures';

/** A route where 3 of 100 requests ran the statement 5× for 50 ms: exactly at every default threshold. */
const atThreshold = {
  requestsOverThreshold: 3,
  maxCallsPerRequest: 5,
  overThresholdMs: 150,
  meanCallsPerRequest: 1.12,
};

function nPlusOne(o: Parameters<typeof endpointQueryRow>[0]) {
  return evaluate(input({ endpointQueries: [endpointQueryRow(o)] }), thresholds(), 1000).filter(
    (r) => r.kind === 'n-plus-one',
  );
}

describe('N+1 rule', () => {
  it('reports a statement repeated 5 times for 50 ms in 3 requests, with the route, statement and example trace', () => {
    const [rec] = nPlusOne(atThreshold);
    expect(rec).toMatchObject({
      kind: 'n-plus-one',
      severity: 'warning',
      service: SERVICE,
      target: { type: 'fingerprint', value: 'fp1', route: 'GET /orders/:id' },
      exampleTraceId: 'trace-n',
      evidence: {
        routeRequests: 100,
        requestsAffected: 3,
        shareOfRequestsAffected: 0.03,
        maxCallsPerRequest: 5,
        repeatMsPerAffectedRequest: 50,
      },
    });
    expect(rec.action).toContain('SELECT * FROM items WHERE order_id = ANY($1)');
    expect(rec.action).toMatch(/JOIN/);
    expect(rec.action).toMatch(/loader/);
  });

  it('says per run, not per request, for a job or a message consumer', () => {
    for (const method of ['JOB', 'CONSUMER']) {
      const [rec] = nPlusOne({ ...atThreshold, method, route: 'send-digest' });
      expect(rec.target.route).toBe(`${method} send-digest`);
      expect(rec.title).toBe(
        `N+1 in ${method} send-digest: SELECT * FROM items WHERE order_id = $1 runs up to 5× per run`,
      );
      expect(rec.action).toMatch(
        /^3% of runs run `SELECT \* FROM items WHERE order_id = \$1` once per item \(50 ms per affected run\)\. /,
      );
      expect(rec.action).toContain('batch the look-ups per run with a loader');
      expect(rec.action).not.toContain('request');
    }
    const [http] = nPlusOne(atThreshold);
    expect(http.title).toMatch(/per request$/);
  });

  it('does not report fewer affected requests than minAffectedRequests', () => {
    expect(nPlusOne({ ...atThreshold, requestsOverThreshold: 2, overThresholdMs: 100 })).toEqual([]);
  });

  it('does not report 4 repeats', () => {
    expect(nPlusOne({ ...atThreshold, maxCallsPerRequest: 4 })).toEqual([]);
  });

  it('reports repeats that take under 50 ms together as info only', () => {
    expect(nPlusOne({ ...atThreshold, overThresholdMs: 149.9 }).map((r) => r.severity)).toEqual(['info']);
  });

  it('is critical when the repeats alone take the route SLO', () => {
    const [rec] = nPlusOne({ ...atThreshold, overThresholdMs: 600 });
    expect(rec.severity).toBe('critical');
  });

  it("rates a job's N+1 by the time it takes alone, critical only against the job's own SLO", () => {
    const job = { ...atThreshold, method: 'JOB', route: 'send-digest', overThresholdMs: 600 };
    const [rec] = nPlusOne(job);
    expect(rec.severity).toBe('warning');
    expect(rec.evidence.routeSloMs).toBeNull();
    const t = thresholds({
      endpoint: { ...thresholds().endpoint, routeSloMs: { 'JOB send-digest': 100 } },
    });
    const [withSlo] = evaluate(input({ endpointQueries: [endpointQueryRow(job)] }), t, 0);
    expect(withSlo.severity).toBe('critical');
  });

  it('follows configured thresholds', () => {
    const t = thresholds({ nPlusOne: { minRepeats: 10, minTotalMs: 10, minAffectedRequests: 1 } });
    const row = endpointQueryRow({ requestsOverThreshold: 1, maxCallsPerRequest: 9, overThresholdMs: 20 });
    expect(evaluate(input({ endpointQueries: [row] }), t, 0)).toEqual([]);
    const row10 = { ...row, maxCallsPerRequest: 10 };
    expect(evaluate(input({ endpointQueries: [row10] }), t, 0).map((r) => r.severity)).toEqual(['warning']);
    expect(
      evaluate(input({ endpointQueries: [{ ...row10, overThresholdMs: 9.9 }] }), t, 0).map((r) => r.severity),
    ).toEqual(['info']);
  });

  it('marks a healthy route × statement as observed so an earlier finding there resolves', () => {
    const { recommendations, observed } = evaluateDetailed(
      input({ endpointQueries: [endpointQueryRow()] }),
      thresholds(),
      0,
    );
    expect(recommendations).toEqual([]);
    const id = recommendationId('n-plus-one', SERVICE, {
      type: 'fingerprint',
      value: 'fp1',
      route: 'GET /orders/:id',
    });
    expect(observed.has(id)).toBe(true);
  });

  it('ignores the overflow row', () => {
    expect(nPlusOne({ ...atThreshold, route: '(other)', method: '(other)' })).toEqual([]);
  });
});

describe('batchedStatement', () => {
  it('turns the one `= $n` into `= ANY($n)`', () => {
    expect(batchedStatement('SELECT id, name FROM "Users" u WHERE u."id" = $1')).toBe(
      'SELECT id, name FROM "Users" u WHERE u."id" = ANY($1)',
    );
  });

  it('leaves statements with several parameters alone', () => {
    expect(batchedStatement('SELECT * FROM t WHERE a = $1 AND b = $2')).toBeUndefined();
  });
});

describe('N+1 advice by statement shape', () => {
  const actionFor = (statement: string) => nPlusOne({ ...atThreshold, statement })[0]?.action;

  it('keeps one result per id where `= ANY` would merge them (LIMIT, aggregates, EXISTS)', () => {
    for (const statement of [
      'SELECT id, note FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2',
      'SELECT count(*) FROM comments WHERE post_id = $1',
      'SELECT EXISTS (SELECT $1 FROM likes WHERE post_id = $2)',
      'SELECT DISTINCT tag FROM post_tags WHERE post_id = $1',
    ]) {
      const action = actionFor(statement);
      expect(action, statement).toMatch(/one result per id/);
      expect(action, statement).toMatch(/GROUP BY|DISTINCT ON|LATERAL/);
      expect(action, statement).not.toContain('= ANY($1) ORDER BY');
      expect(action, statement).not.toContain('post_id = ANY($1)');
    }
  });

  it("offers `= ANY` without the LIMIT for an ORM's one-row fetch by key (Knex first(), Sequelize findOne)", () => {
    // Recorded from a Knex loop: knex('users').where('id', o.user_id).first('email').
    const action = actionFor('select "email" from "users" where "id" = $1 limit $2');
    expect(action).toContain('select "email" from "users" where "id" = ANY($1) (one array parameter');
    expect(action).toMatch(/first\(\)/);
    // Still the per-id forms for what a LIMIT may truly cap.
    expect(action).toMatch(/one result per id/);
    const topN = actionFor(
      'SELECT id, note FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2',
    );
    expect(topN).not.toMatch(/first\(\)/);
  });

  it('never reports transaction control or session statements', () => {
    for (const statement of [
      'BEGIN',
      'COMMIT',
      'ROLLBACK',
      'SAVEPOINT sp',
      'RELEASE SAVEPOINT sp',
      'SET app.user = $1',
    ])
      expect(nPlusOne({ ...atThreshold, statement }), statement).toEqual([]);
  });

  it('advises one multi-row INSERT for an insert loop', () => {
    const action = actionFor('INSERT INTO audit (event, at) VALUES ($1, now())');
    expect(action).toMatch(/multi-row VALUES/);
    expect(action).toMatch(/unnest/);
    expect(action).not.toMatch(/= ANY\(\$1\)/);
  });

  it('tells a loader that takes a list to batch per request, not to use `= ANY`', () => {
    const action = actionFor('SELECT id, total FROM orders WHERE id = ANY($1)');
    expect(action).toMatch(/takes a list .* collect the ids of the whole request into one call/);
    expect(action).not.toMatch(/TypeORM/);
  });
  it('advises an UPDATE … FROM unnest for per-row values', () => {
    expect(actionFor('UPDATE items SET qty = $1 WHERE id = $2')).toMatch(/FROM unnest/);
    // One value for all rows: `= ANY` on the key keeps the meaning.
    expect(actionFor('UPDATE items SET seen_at = now() WHERE id = $1')).toContain('WHERE id = ANY($1)');
  });

  it('advises larger pages for a keyset pagination loop', () => {
    expect(actionFor('SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2')).toMatch(/pages through/);
  });
});

describe('N+1 advice for TypeORM statements', () => {
  const actionFor = (statement: string) => nPlusOne({ ...atThreshold, statement })[0]?.action;
  // Statements as recorded from a TypeORM 1.1 app under the preload (normalized by the sidecar).
  const lazyOneToMany =
    'SELECT "items"."id" AS "items_id", "items"."sku" AS "items_sku", "items"."order_id" AS "items_order_id" ' +
    'FROM "order_items" "items" WHERE "items"."order_id" IN ($1 /*, ... */)';
  const lazySoftDeleted =
    'SELECT "posts"."id" AS "posts_id", "posts"."authorId" AS "posts_authorId" FROM "post" "posts" ' +
    'WHERE ( "posts"."authorId" IN ($1 /*, ... */) ) AND ( "posts"."deletedAt" IS NULL )';
  const lazyManyToOne =
    'SELECT "author"."id" AS "author_id" FROM "author" "author" INNER JOIN "post" "Post" ON "Post"."authorId" = "author"."id" ' +
    'WHERE ( "Post"."id" IN ($1 /*, ... */) ) AND ( "author"."deletedAt" IS NULL )';
  const findOneBy =
    'SELECT "User"."id" AS "User_id", "User"."email" AS "User_email" FROM "users" "User" ' +
    'WHERE ( (("User"."id" = $1)) ) AND ( "User"."deleted_at" IS NULL ) LIMIT $2';

  it("names the relation of a lazy load (await order.items in a loop) and TypeORM's eager forms, not 'already batched'", () => {
    for (const [statement, relation] of [
      [lazyOneToMany, 'items'],
      [lazySoftDeleted, 'posts'],
      [lazyManyToOne, 'author'],
    ]) {
      const action = actionFor(statement);
      expect(action, statement).toContain(`\`await entity.${relation}\` in a loop`);
      expect(action, statement).toContain(`find({ relations: { ${relation}: true } })`);
      expect(action, statement).toContain(`leftJoinAndSelect('parent.${relation}', '${relation}')`);
      expect(action, statement).not.toMatch(/already batched/);
    }
  });

  it("does not read find's own In() or save([...])'s read (the entity's alias) as a lazy relation", () => {
    for (const statement of [
      'SELECT "Product"."sku" AS "Product_sku" FROM "products" "Product" WHERE (("Product"."sku" IN ($1 /*, ... */)))',
      'SELECT "Thing"."id" AS "Thing_id", "Thing"."n" AS "Thing_n" FROM "things" "Thing" WHERE "Thing"."id" IN ($1 /*, ... */)',
    ]) {
      const action = actionFor(statement);
      expect(action, statement).toMatch(/takes a list/);
      expect(action, statement).not.toMatch(/lazy relation/);
    }
  });

  it('names save([...]) for the read save() makes of each entity it is given', () => {
    const action = actionFor(
      'SELECT "Thing"."id" AS "Thing_id", "Thing"."n" AS "Thing_n" FROM "things" "Thing" WHERE "Thing"."id" = $1',
    );
    expect(action).toContain('"Thing"."id" = ANY($1)');
    expect(action).toContain('`findBy({ id: In(ids) })`');
    expect(action).toContain('one `save([...])`');
    // find's own look-up (double parentheses) is not save()'s.
    expect(
      actionFor('SELECT "Thing"."id" AS "Thing_id" FROM "things" "Thing" WHERE (("Thing"."id" = $1))'),
    ).not.toMatch(/save\(/);
  });

  it("offers findBy with In() for findOneBy in a loop, and only TypeORM's calls", () => {
    const action = actionFor(findOneBy);
    expect(action).toContain('"User"."id" = ANY($1)');
    expect(action).toContain('in TypeORM: `findBy({ id: In(ids) })`');
    expect(action).not.toMatch(/whereIn|findAll/);
    // A snake_case column's property is not in the SQL: the advice does not guess it.
    const byUser = actionFor(
      'SELECT "Order"."id" AS "Order_id" FROM "orders" "Order" WHERE (("Order"."user_id" = $1))',
    );
    expect(byUser).toContain('"Order"."user_id" = ANY($1)');
    expect(byUser).toContain('`findBy({ <property of user_id>: In(ids) })`');
  });

  it("keeps the ORM-neutral hint for SQL that is not TypeORM's", () => {
    const action = actionFor('select "email" from "users" where "id" = $1 limit $2');
    expect(action).toMatch(/whereIn/);
    expect(action).not.toMatch(/in TypeORM/);
  });
});
