import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { after, jsonBody, protobufBody, readableSpan, T0 } from '../fixtures/otlp/spans';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

// Bodies as the preload and an app's own SDK send them from one process (same service.name, host.name
// and process.pid; the preload's resource says telemetry.distro.name: spanstat), through the receiver,
// the decoders and the pipeline: exact counts, and the order-of-arrival rule of classify/double-tracing.ts.
const SERVICE = 'orders-api';
const PROCESS = { 'service.name': SERVICE, 'host.name': 'web-1', 'process.pid': 4242 };
const PRELOAD = resourceFromAttributes({ ...PROCESS, 'telemetry.distro.name': 'spanstat' });
const OWN_SDK = resourceFromAttributes({ ...PROCESS, 'telemetry.sdk.name': 'opentelemetry' });
const OTHER_PROCESS = resourceFromAttributes({ ...PROCESS, 'process.pid': 4343 });

let seq = 0;
/** One request to GET /orders/:id with one query, as `resource` traces it (ids of its own). */
function request(resource: ReturnType<typeof resourceFromAttributes>): ReadableSpan[] {
  seq++;
  const traceId = seq.toString(16).padStart(32, '0');
  const server = `${seq.toString(16).padStart(12, '0')}0001`;
  return [
    readableSpan({
      name: 'GET /orders/:id',
      kind: 1,
      traceId,
      spanId: server,
      start: T0,
      end: after(T0, 20_000_000),
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/orders/:id',
        'http.response.status_code': 200,
      },
      resource,
    }),
    readableSpan({
      name: 'pg.query:SELECT shop',
      kind: 2,
      traceId,
      spanId: `${seq.toString(16).padStart(12, '0')}0002`,
      parentSpanId: server,
      start: T0,
      end: after(T0, 5_000_000),
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1' },
      resource,
    }),
  ];
}

let sidecar: RunningSidecar;
beforeAll(async () => {
  sidecar = await startTestSidecar();
});
afterAll(async () => {
  await sidecar?.shutdown();
});

async function send(spans: ReadableSpan[], json = false): Promise<void> {
  const res = await fetch(`${sidecar.receiverUrl}/v1/traces`, {
    method: 'POST',
    body: json ? jsonBody(spans) : protobufBody(spans),
    headers: { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' },
  });
  expect(res.status).toBe(200);
}

/** Requests and query calls once everything sent is processed and summarised. */
async function counts(expectedRequests: number): Promise<{ requests: number; calls: number }> {
  const read = async () => {
    const endpoint = (
      await getJson<Report<EndpointRow>>(`${sidecar.apiUrl}/api/v1/reports/endpoints?service=${SERVICE}`)
    ).rows[0];
    const query = (
      await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries?service=${SERVICE}`)
    ).rows[0];
    return {
      requests: endpoint?.requests ?? 0,
      calls: query?.calls ?? 0,
      perRequest: endpoint?.queriesPerRequest,
    };
  };
  await waitFor(async () => (await read()).requests >= expectedRequests);
  // Past the assembler's idle time and the report cache: anything more would have landed.
  await new Promise((r) => setTimeout(r, 1_200));
  const { requests, calls, perRequest } = await read();
  expect(perRequest).toBe(1);
  return { requests, calls };
}

describe('spans from the preload and an app’s own SDK in one process', () => {
  it('count once from the preload’s first export on; before it, the other SDK’s count', async () => {
    // The app's SDK exports first: nothing says yet that the preload shares its process.
    await send(request(OWN_SDK));
    expect(await counts(1)).toEqual({ requests: 1, calls: 1 });
    // The preload's first export (its copy of that request, counted: the documented surplus) …
    await send(request(PRELOAD));
    expect(await counts(2)).toEqual({ requests: 2, calls: 2 });
    // … and from then on each request counts once, whichever copy comes first, over JSON too.
    for (let i = 0; i < 3; i++) {
      await send(request(OWN_SDK), i === 1);
      await send(request(PRELOAD));
    }
    await send([...request(PRELOAD), ...request(OWN_SDK)]);
    expect(await counts(6)).toEqual({ requests: 6, calls: 6 });
    // Another process of the service, with no preload, counts as it is.
    await send(request(OTHER_PROCESS));
    expect(await counts(7)).toEqual({ requests: 7, calls: 7 });
    const health = await getJson<{ pipeline: { spansSetAside: number }; doubleTraced: unknown }>(
      `${sidecar.apiUrl}/healthz`,
    );
    expect(health.pipeline.spansSetAside).toBe(8);
    expect(health.doubleTraced).toEqual({ [SERVICE]: { processes: 1, spansSetAside: 8 } });
  });
});
