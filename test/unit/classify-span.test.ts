import { beforeAll, describe, expect, it } from 'vitest';
import { NamespaceLearner } from '../../src/cache-keys/namespace-learner';
import { SpanClassifier } from '../../src/classify/classify-span';
import { DEFAULTS } from '../../src/config/defaults';
import type { RequestSpan } from '../../src/model/classified';
import { type DecodedSpan, SpanKind } from '../../src/model/span';
import { SqlFingerprinter } from '../../src/sql/fingerprinter';

let classifier: SpanClassifier;
beforeAll(async () => {
  const sql = await SqlFingerprinter.create(DEFAULTS.sql);
  classifier = new SpanClassifier(sql, new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }));
});

function span(attributes: DecodedSpan['attributes'], extra: Partial<DecodedSpan> = {}): DecodedSpan {
  const ids = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), parentSpanId: 'c'.repeat(16) };
  return {
    service: 'shop',
    ...ids,
    name: 'span',
    kind: SpanKind.CLIENT,
    startMs: 0,
    durationMs: 1,
    statusCode: 0,
    attributes,
    ...extra,
  };
}

describe('SpanClassifier', () => {
  it('classifies a pg query with stable attributes as a DB call with a literal-free statement', () => {
    const result = classifier.classify(
      span({
        'db.system.name': 'postgresql',
        'db.query.text': "SELECT * FROM users WHERE email = 'alice@example.com'",
      }),
    );
    expect(result.type).toBe('db');
    if (result.type !== 'db') return;
    expect(result.system).toBe('postgresql');
    expect(result.operation).toBe('SELECT');
    expect(result.table).toBe('users');
    expect(result.statement).not.toContain('alice');
  });

  it('reads the old attribute generation (db.system, db.statement)', () => {
    const stable = classifier.classify(
      span({ 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1 FROM t WHERE a = 5' }),
    );
    const old = classifier.classify(
      span({ 'db.system': 'postgresql', 'db.statement': 'SELECT 1 FROM t WHERE a = 7' }),
    );
    expect(old.type).toBe('db');
    if (old.type !== 'db' || stable.type !== 'db') return;
    expect(old.fingerprint).toBe(stable.fingerprint);
  });

  it('templates the id parts of a table named only by db.sql.table, as statements do', () => {
    const noText = classifier.classify(
      span({ 'db.system': 'postgresql', 'db.sql.table': 'tenant_42.orders' }),
    );
    const noTable = classifier.classify(
      span({ 'db.system': 'postgresql', 'db.statement': 'SELECT 1', 'db.sql.table': 'events_2024_11' }),
    );
    expect(noText).toMatchObject({ type: 'db', table: 'tenant_*.orders' });
    expect(noTable).toMatchObject({ type: 'db', table: 'events_*_*' });
  });

  it('keeps other database systems under their own system', () => {
    const result = classifier.classify(
      span({ 'db.system': 'mysql', 'db.statement': 'SELECT * FROM t WHERE id = 3' }),
    );
    expect(result).toMatchObject({ type: 'db', system: 'mysql' });
  });

  it('classifies a pg-pool.connect span as a pool wait', () => {
    const result = classifier.classify(
      span(
        { 'db.system.name': 'postgresql', 'spanstat.pool.max': 10, 'spanstat.pool.in_use': 9 },
        { name: 'pg-pool.connect' },
      ),
    );
    expect(result).toMatchObject({ type: 'pool-connect', poolMax: 10, poolInUse: 9 });
  });

  it('classifies a pg-pool.usage sample as pool usage, not as a wait or a query', () => {
    const result = classifier.classify(
      span(
        { 'db.system.name': 'postgresql', 'spanstat.pool.max': 10, 'spanstat.pool.in_use': 7 },
        { name: 'pg-pool.usage' },
      ),
    );
    expect(result).toMatchObject({ type: 'pool-usage', system: 'postgresql', poolMax: 10, poolInUse: 7 });
  });

  it("classifies a postgres.js instance's connection wait and usage sample as a pg pool's, not as queries", () => {
    const attributes = { 'db.system.name': 'postgresql', 'spanstat.pool.max': 2, 'spanstat.pool.in_use': 2 };
    const [wait, usage] = ['postgres.pool.wait', 'postgres.pool.usage'].map((name) =>
      classifier.classify(span(attributes, { name })),
    );
    expect([wait, usage]).toMatchObject([
      { type: 'pool-connect', system: 'postgresql', poolMax: 2, poolInUse: 2 },
      { type: 'pool-usage', system: 'postgresql', poolMax: 2, poolInUse: 2 },
    ]);
  });

  it('keeps the pool name of pool waits and usage samples, so two pools of one service stay apart', () => {
    const name = 'db.client.connection.pool.name';
    const pools = [
      span({ 'db.system.name': 'postgresql', [name]: 'db-1:5432/shop' }, { name: 'pg-pool.connect' }),
      span({ 'db.system.name': 'postgresql', [name]: 'db-2:5432/shop' }, { name: 'pg-pool.connect' }),
      span({ 'db.system.name': 'postgresql', [name]: 'db-2:5432/shop' }, { name: 'pg-pool.usage' }),
    ].map((s) => classifier.classify(s));
    expect(pools).toMatchObject([
      { type: 'pool-connect', pool: 'db-1:5432/shop' },
      { type: 'pool-connect', pool: 'db-2:5432/shop' },
      { type: 'pool-usage', pool: 'db-2:5432/shop' },
    ]);
  });

  it("reads a pool span without a pool name (older preloads, other SDKs) as the service's unnamed pool", () => {
    const connect = classifier.classify(
      span({ 'db.system.name': 'postgresql' }, { name: 'pg-pool.connect' }),
    );
    const noSystem = classifier.classify(span({}, { name: 'pg-pool.connect' }));
    expect([connect, noSystem]).toMatchObject([
      { type: 'pool-connect', system: 'postgresql', pool: '' },
      { type: 'pool-connect', system: 'postgresql', pool: '' },
    ]);
  });

  it('never keeps a user or password from a pool named after its connection string', () => {
    const result = classifier.classify(
      span(
        {
          'db.system.name': 'postgresql',
          'db.client.connection.pool.name': 'postgres://app:s3cret@db:5432/shop',
        },
        { name: 'pg-pool.connect' },
      ),
    );
    expect(result).toMatchObject({ type: 'pool-connect', pool: 'db:5432/shop' });
    expect(JSON.stringify(result)).not.toContain('s3cret');
  });

  it('never keeps the parameters of a connection string, where libpq URIs may put the password', () => {
    for (const name of [
      'postgres://db:5432/shop?user=app&password=s3cret',
      'postgresql:///shop?host=/run/pg&password=s3cret',
      'db:5432/shop?sslpassword=s3cret#frag',
    ]) {
      const result = classifier.classify(
        span(
          { 'db.system.name': 'postgresql', 'db.client.connection.pool.name': name },
          { name: 'pg-pool.connect' },
        ),
      );
      expect(JSON.stringify(result)).not.toContain('s3cret');
      expect(result).toMatchObject({ type: 'pool-connect' });
    }
    const plain = classifier.classify(
      span(
        {
          'db.system.name': 'postgresql',
          'db.client.connection.pool.name': 'postgres://db:5432/shop?password=x',
        },
        { name: 'pg-pool.connect' },
      ),
    );
    expect(plain).toMatchObject({ pool: 'postgres://db:5432/shop' });
  });

  it('classifies a Redis GET as a cache read with its hit/miss and namespace', () => {
    const result = classifier.classify(
      span({
        'db.system.name': 'redis',
        'db.query.text': 'get user:42',
        'spanstat.cache.misses': 1,
        'spanstat.cache.hits': 0,
      }),
    );
    expect(result).toMatchObject({
      type: 'cache',
      command: 'get',
      namespace: 'user:*',
      read: true,
      write: false,
      misses: 1,
      hits: 0,
    });
  });

  it('splits an MGET across namespaces by which keys it found: the first namespace keeps the call', () => {
    const result = classifier.classify(
      span({
        'db.system.name': 'redis',
        'db.query.text': 'mget user:1 product:7 user:2 product:8 product:9',
        'spanstat.cache.hits': 3,
        'spanstat.cache.misses': 2,
        'spanstat.cache.key_hits': '10011',
      }),
    );
    expect(result).toMatchObject({ type: 'cache', command: 'mget', namespace: 'user:*', hits: 1, misses: 1 });
    if (result.type !== 'cache') return;
    expect(result.otherNamespaceReads).toEqual([{ namespace: 'product:*', hits: 2, misses: 1 }]);
  });

  it('leaves an MGET whole when its keys share a namespace or key_hits does not fit the call', () => {
    const same = classifier.classify(
      span({
        'db.system.name': 'redis',
        'db.query.text': 'mget user:1 user:2',
        'spanstat.cache.hits': 1,
        'spanstat.cache.misses': 1,
        'spanstat.cache.key_hits': '10',
      }),
    );
    expect(same).toMatchObject({ namespace: 'user:*', hits: 1, misses: 1 });
    expect(same).not.toHaveProperty('otherNamespaceReads');
    for (const found of ['1', '1x', '100']) {
      const odd = classifier.classify(
        span({
          'db.system.name': 'redis',
          'db.query.text': 'mget user:1 product:2',
          'spanstat.cache.hits': 1,
          'spanstat.cache.misses': 1,
          'spanstat.cache.key_hits': found,
        }),
      );
      expect(odd).toMatchObject({ namespace: 'user:*', hits: 1, misses: 1 });
      expect(odd).not.toHaveProperty('otherNamespaceReads');
    }
  });

  it('shapes a DB span name that is a statement, literals out, when the span has no text', () => {
    const named = classifier.classify(
      span({ 'db.system.name': 'postgresql' }, { name: "SELECT * FROM acct WHERE ssn = '123-45-6789'" }),
    );
    expect(named.type).toBe('db');
    if (named.type !== 'db') return;
    expect(named.statement).toMatch(/^\(no statement\) SELECT \* FROM acct WHERE ssn = \$1$/);
    expect(`${named.fingerprint} ${named.statement}`).not.toContain('123-45-6789');
    const plain = classifier.classify(span({ 'db.system.name': 'postgresql' }, { name: 'pg.ping' }));
    expect(plain).toMatchObject({ fingerprint: 'name:pg.ping', statement: '(no statement) pg.ping' });
  });

  it("takes instrumentation-pg's pg.connect (a connection opened) for no query", () => {
    const connect = classifier.classify(span({ 'db.system.name': 'postgresql' }, { name: 'pg.connect' }));
    expect(connect).toMatchObject({ type: 'other', parentSpanId: 'c'.repeat(16) });
  });

  it('takes a Redis command name only when it is shaped like one, never a key or a value', () => {
    const command = (attributes: DecodedSpan['attributes'], name = 'span') => {
      const result = classifier.classify(span({ 'db.system.name': 'redis', ...attributes }, { name }));
      return result.type === 'cache' ? result.command : result.type;
    };
    expect(command({}, 'get user:secret-name:1')).toBe('get');
    expect(command({ 'db.query.text': 'lkcmd@example.com user:1' })).toBe('other');
    expect(command({ 'db.query.text': 'JSON.GET doc:1 $' })).toBe('json.get');
    expect(command({ 'db.operation.name': 'MULTI get' })).toBe('multi');
  });

  it('records the TTL a write set', () => {
    const result = classifier.classify(
      span({ 'db.system': 'redis', 'db.statement': 'set user:42', 'spanstat.cache.ttl_s': 60 }),
    );
    expect(result).toMatchObject({ type: 'cache', command: 'set', write: true, ttlSeconds: 60 });
  });

  it('classifies a SERVER span as a request using http.route, or a templated path without one', () => {
    const routed = classifier.classify(
      span(
        { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 200 },
        { kind: SpanKind.SERVER },
      ),
    );
    expect(routed).toMatchObject({
      type: 'request',
      method: 'GET',
      route: '/users/:id',
      status: 200,
      error: false,
    });
    // A server that names no routes (plain node:http): its path, ids templated.
    const bare = classifier.classify(
      span(
        { 'http.method': 'post', 'http.target': '/orders/123/pay?x=1', 'http.status_code': 502 },
        { kind: SpanKind.SERVER, service: 'plain-http' },
      ),
    );
    expect(bare).toMatchObject({
      type: 'request',
      method: 'POST',
      route: '/orders/:id/pay',
      status: 502,
      error: true,
    });
    // A 404 that no route matched: one row for every path clients ask for, never the path itself.
    const unmatched = (path: string) =>
      classifier.classify(
        span(
          { 'http.request.method': 'GET', 'url.path': path, 'http.response.status_code': 404 },
          { kind: SpanKind.SERVER },
        ),
      );
    expect(unmatched('/profile/alice.smith')).toMatchObject({
      route: '(unmatched)',
      status: 404,
      error: false,
    });
    expect(unmatched('/api/users/1/extra')).toMatchObject({ route: '(unmatched)' });
    // A route that matched and answered 404 (no such user) keeps its template.
    const routed404 = classifier.classify(
      span(
        {
          'http.request.method': 'GET',
          'http.route': '/users/:id',
          'url.path': '/users/9',
          'http.response.status_code': 404,
        },
        { kind: SpanKind.SERVER },
      ),
    );
    expect(routed404).toMatchObject({ route: '/users/:id', status: 404 });
  });

  it('names a request without http.route by the first configured route template its path matches', async () => {
    const sql = await SqlFingerprinter.create(DEFAULTS.sql);
    const routed = new SpanClassifier(sql, new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }), [
      '/users/:name/repos/:repo',
      '/users/:name',
      '/static/**',
    ]);
    const routeOf = (attributes: DecodedSpan['attributes'], name = 'GET') =>
      (
        routed.classify(
          span({ 'http.request.method': 'GET', ...attributes }, { kind: SpanKind.SERVER, name }),
        ) as RequestSpan
      ).route;
    const status = (path: string, code = 200) =>
      routeOf({ 'url.path': path, 'http.response.status_code': code });
    // Word-like segments the id heuristics keep (usernames, slugs) are named by the template.
    expect(status('/users/alice')).toBe('/users/:name');
    expect(status('/users/alice/repos/dotfiles?tab=code')).toBe('/users/:name/repos/:repo');
    expect(status('/static/css/site.css')).toBe('/static/**');
    // No template matches: ids become :id as before; the word-like segment stays.
    expect(status('/orders/42/lines')).toBe('/orders/:id/lines');
    expect(status('/users/alice/settings')).toBe('/users/alice/settings');
    // A 404 stays unmatched, and the app's own http.route wins over any template.
    expect(status('/users/alice', 404)).toBe('(unmatched)');
    expect(routeOf({ 'http.route': '/users/:login', 'url.path': '/users/alice' })).toBe('/users/:login');
    // No path attribute: a path in the span name is matched too.
    expect(routeOf({}, 'GET /users/bob')).toBe('GET /users/:name');
    // The default classifier (no templates) keeps the word-like segment.
    expect(
      (
        classifier.classify(
          span(
            { 'http.request.method': 'GET', 'url.path': '/users/alice' },
            { kind: SpanKind.SERVER, service: 'plain-http' },
          ),
        ) as RequestSpan
      ).route,
    ).toBe('/users/alice');
  });

  it("names a request without http.route (middleware) once its service's framework has named a route", async () => {
    const sql = await SqlFingerprinter.create(DEFAULTS.sql);
    const fresh = new SpanClassifier(sql, new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }), [
      '/oauth/:provider/callback',
    ]);
    const routeOf = (service: string, attributes: DecodedSpan['attributes']) =>
      (
        fresh.classify(
          span({ 'http.request.method': 'GET', ...attributes }, { kind: SpanKind.SERVER, service }),
        ) as RequestSpan
      ).route;
    const auth401 = { 'url.path': '/profile/zebediah', 'http.response.status_code': 401 };
    // Before any route from the service: its path, as for a server that names none.
    expect(routeOf('web', auth401)).toBe('/profile/zebediah');
    expect(routeOf('web', { 'http.route': '/api/users/:id', 'url.path': '/api/users/5' })).toBe(
      '/api/users/:id',
    );
    // Now an auth 401, a 429, a preflight: answered before routing, never named by the path sent.
    expect(routeOf('web', auth401)).toBe('(middleware)');
    expect(routeOf('web', { 'url.path': '/uploads/marmalade', 'http.response.status_code': 429 })).toBe(
      '(middleware)',
    );
    // A 404 stays unmatched, and a configured template still names a path.
    expect(routeOf('web', { 'url.path': '/profile/zebediah', 'http.response.status_code': 404 })).toBe(
      '(unmatched)',
    );
    expect(routeOf('web', { 'url.path': '/oauth/github/callback', 'http.response.status_code': 302 })).toBe(
      '/oauth/:provider/callback',
    );
    // Per service: another service that names no routes keeps its templated paths.
    expect(routeOf('plain', auth401)).toBe('/profile/zebediah');
  });

  it("keeps the preload's fixed names for requests Express middleware answered, unless a configured template names the path", async () => {
    const sql = await SqlFingerprinter.create(DEFAULTS.sql);
    const routed = new SpanClassifier(sql, new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }), [
      '/graphql/**',
    ]);
    const routeOf = (c: SpanClassifier, route: string, path: string, status = 200) =>
      (
        c.classify(
          span(
            {
              'http.request.method': 'GET',
              'http.route': route,
              'url.path': path,
              'http.response.status_code': status,
            },
            { kind: SpanKind.SERVER },
          ),
        ) as RequestSpan
      ).route;
    expect(routeOf(classifier, '(middleware)', '/profile/alice', 401)).toBe('(middleware)');
    expect(routeOf(classifier, '(static)', '/files/report-q3-confidential.pdf')).toBe('(static)');
    expect(routeOf(routed, '(middleware)', '/graphql/batch')).toBe('/graphql/**');
    expect(routeOf(routed, '(static)', '/graphql/app.js')).toBe('/graphql/**');
    expect(routeOf(routed, '(middleware)', '/profile/alice', 401)).toBe('(middleware)');
    // Any other route the app sends is its own, even one a template would match.
    expect(routeOf(routed, '/graphql', '/graphql/batch')).toBe('/graphql');
  });

  it("reads the preload's lost-span count and instance on a request, nothing when absent or not a count", () => {
    const loss = (attributes: Record<string, string | number>) =>
      (
        classifier.classify(
          span({ 'http.request.method': 'GET', ...attributes }, { kind: SpanKind.SERVER }),
        ) as RequestSpan
      ).senderLoss;
    const instance = 'c0ffee00-1111-4222-8333-444455556666';
    expect(loss({ 'spanstat.preload.lost_spans': 42, 'spanstat.preload.instance': instance })).toEqual({
      instance,
      lostSpans: 42,
    });
    expect(loss({ 'spanstat.preload.lost_spans': 7 })).toEqual({ instance: '', lostSpans: 7 });
    expect(
      loss({ 'spanstat.preload.lost_spans': 1, 'spanstat.preload.instance': 'x'.repeat(500) })?.instance,
    ).toHaveLength(64);
    for (const bad of [0, -3, 2.5, 'many'])
      expect(loss({ 'spanstat.preload.lost_spans': bad })).toBeUndefined();
    expect(loss({})).toBeUndefined();
  });

  it("reads the preload's declared descendants on a request, -1 when absent or not a count", () => {
    const declared = (value: string | number | undefined) =>
      (
        classifier.classify(
          span(
            {
              'http.request.method': 'GET',
              ...(value === undefined ? {} : { 'spanstat.descendants': value }),
            },
            { kind: SpanKind.SERVER },
          ),
        ) as RequestSpan
      ).descendants;
    expect(declared(4)).toBe(4);
    expect(declared(0)).toBe(0);
    expect(declared('3')).toBe(3);
    expect(declared(undefined)).toBe(-1);
    expect(declared(-2)).toBe(-1);
    expect(declared(1.5)).toBe(-1);
    expect(declared('many')).toBe(-1);
  });

  it('reads each span by its own system, method and command when they alternate', () => {
    const cases: [DecodedSpan, Record<string, unknown>][] = [
      [
        span({ 'db.system.name': 'Redis', 'db.query.text': 'GET user:1' }),
        { type: 'cache', system: 'redis', command: 'get' },
      ],
      [
        span({ 'db.system.name': 'PostgreSQL', 'db.query.text': 'SELECT 1' }),
        { type: 'db', system: 'postgresql' },
      ],
      [
        span({ 'db.system.name': 'redis', 'db.query.text': 'Set user:1' }),
        { type: 'cache', command: 'set', write: true },
      ],
      [
        span({ 'db.system.name': 'postgres', 'db.query.text': 'SELECT 2' }),
        { type: 'db', system: 'postgresql' },
      ],
      [
        span({ 'db.system': 'redis', 'db.statement': 'xget k:1' }),
        { type: 'cache', command: 'xget', read: false },
      ],
      [span({ 'http.request.method': 'get' }, { kind: SpanKind.SERVER }), { type: 'request', method: 'GET' }],
      [
        span({ 'http.request.method': 'POST' }, { kind: SpanKind.SERVER }),
        { type: 'request', method: 'POST' },
      ],
      [span({ 'http.request.method': 'get' }, { kind: SpanKind.SERVER }), { type: 'request', method: 'GET' }],
      [span({ 'db.system.name': 'redis', 'db.operation.name': 'PING' }), { type: 'other' }],
      [span({ 'db.system.name': 'redis', 'db.query.text': 'GET user:2' }), { type: 'cache', command: 'get' }],
      // An attempt a Redis Cluster redirected: a call, not an error (the pipeline tells it from its next attempt).
      [
        span(
          { 'db.system.name': 'redis', 'db.query.text': 'GET user:2' },
          { statusCode: 2, redirected: true },
        ),
        { type: 'cache', command: 'get', error: false },
      ],
      [
        span({ 'db.system.name': 'redis', 'db.query.text': 'GET user:2' }, { statusCode: 2 }),
        { type: 'cache', command: 'get', error: true },
      ],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [input, expected] of cases) expect(classifier.classify(input)).toMatchObject(expected);
    }
  });

  it('classifies a preload job root as a JOB unit named after the job, failed on an ERROR status', () => {
    const root = span(
      { 'spanstat.job.name': 'send-digest', 'spanstat.descendants': 9, 'spanstat.preload.lost_spans': 3 },
      { kind: SpanKind.INTERNAL, name: 'send-digest', parentSpanId: '' },
    );
    expect(classifier.classify(root)).toEqual({
      type: 'request',
      service: 'shop',
      traceId: root.traceId,
      spanId: root.spanId,
      parentSpanId: '',
      startMs: 0,
      durationMs: 1,
      error: false,
      method: 'JOB',
      route: 'send-digest',
      status: 0,
      descendants: 9,
      senderLoss: { instance: '', lostSpans: 3 },
      namesOperation: false,
    });
    const failed = span({ 'spanstat.job.name': 'send-digest' }, { kind: SpanKind.INTERNAL, statusCode: 2 });
    expect(classifier.classify(failed)).toMatchObject({ type: 'request', method: 'JOB', error: true });
  });

  it('classifies a CONSUMER span as a CONSUMER unit named after the span', () => {
    const consume = span(
      { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
      { kind: SpanKind.CONSUMER, name: 'process orders' },
    );
    expect(classifier.classify(consume)).toMatchObject({
      type: 'request',
      method: 'CONSUMER',
      route: 'process orders',
      status: 0,
      error: false,
      descendants: -1,
    });
    expect(classifier.classify({ ...consume, statusCode: 2, name: 'orders process' })).toMatchObject({
      method: 'CONSUMER',
      route: 'orders process',
      error: true,
    });
  });

  it('templates ids out of job and consumer names, as out of paths', () => {
    const cases: [string, string][] = [
      ['send-digest', 'send-digest'],
      ['send-digest:4711', 'send-digest::id'],
      ['process orders.7f3c9a2e11', 'process orders.:id'],
      ['invoice/2024-001/pdf', 'invoice/:id/pdf'],
      ['mail user@example.com', 'mail :id'],
      ['notify alice.smith@corp.example.com', 'notify :id'],
      ['digest:alice.smith@corp.example.com:weekly', 'digest::id:weekly'],
      ['  ', '(unnamed)'],
      // The preload's name for an empty one arrives templated already.
      ['(unnamed)', '(unnamed)'],
      ['x'.repeat(500), ':id'],
      [Array(40).fill('step').join(' '), Array(40).fill('step').join(' ').slice(0, 100)],
    ];
    for (const [name, route] of cases) {
      const root = span({ 'spanstat.job.name': name }, { kind: SpanKind.INTERNAL });
      expect(classifier.classify(root), name).toMatchObject({ method: 'JOB', route });
      expect(classifier.classify(span({}, { kind: SpanKind.CONSUMER, name })), name).toMatchObject({
        method: 'CONSUMER',
        route,
      });
    }
  });

  it('calls anything else other', () => {
    expect(classifier.classify(span({ foo: 'bar' }, { kind: SpanKind.INTERNAL })).type).toBe('other');
    expect(classifier.classify(span({ 'http.request.method': 'GET' }, { kind: SpanKind.CLIENT })).type).toBe(
      'other',
    );
  });
});

describe('SpanClassifier on connection-level Redis commands', () => {
  it('does not count hello/client/info sent on connect as cache calls', () => {
    for (const text of ['hello 3', 'client setname app', 'info', 'select 1']) {
      expect(classifier.classify(span({ 'db.system.name': 'redis', 'db.query.text': text })).type).toBe(
        'other',
      );
    }
  });
});
