/**
 * What the GraphQL-operation and tRPC-procedure naming unit tests share: a SERVER span of a route, and a
 * classifier (SQL passed through unchanged) that answers each span's endpoint name.
 */
import { NamespaceLearner } from '../../src/cache-keys/namespace-learner';
import { SpanClassifier } from '../../src/classify/classify-span';
import { DEFAULTS } from '../../src/config/defaults';
import type { RequestSpan } from '../../src/model/classified';
import { type DecodedSpan, SpanKind } from '../../src/model/span';

const sql = {
  fingerprint: (_system: string, text: string) => ({
    fingerprint: text,
    statement: text,
    operation: '',
    table: '',
  }),
};

/** A SERVER span of `method route` (answered 200) with `attributes` besides. */
export function routeSpan(
  method: string,
  route: string,
  attributes: DecodedSpan['attributes'],
  service = 'shop',
): DecodedSpan {
  return {
    service,
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    parentSpanId: '',
    name: `${method} ${route}`,
    kind: SpanKind.SERVER,
    startMs: 0,
    durationMs: 1,
    statusCode: 0,
    attributes: {
      'http.request.method': method,
      'http.route': route,
      'url.path': route,
      'http.response.status_code': 200,
      ...attributes,
    },
  };
}

/** `METHOD route` of each span a classifier with these caps names. */
export function endpointNamer(
  graphqlPerRoute: number = DEFAULTS.http.graphqlOperationsPerRoute,
  trpcPerRoute: number = DEFAULTS.http.trpcProceduresPerRoute,
): (span: DecodedSpan) => string {
  const learner = new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] });
  const classifier = new SpanClassifier(sql, learner, [], graphqlPerRoute, trpcPerRoute);
  return (span) => {
    const record = classifier.classify(span) as RequestSpan;
    return `${record.method} ${record.route}`;
  };
}
