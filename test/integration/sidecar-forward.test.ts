import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardStats } from '../../src/forward';
import type { EndpointRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { requestWithQuery } from '../fixtures/otlp/spans';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

/** A request span with one query beneath it, on `route`. */
function request(traceByte: string, route: string) {
  return requestWithQuery(traceByte.repeat(16), route);
}

describe('sidecar forwarding to another OTLP endpoint', () => {
  let upstream: RunningSidecar;
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    upstream = await startTestSidecar();
    sidecar = await startTestSidecar({ forward: { endpoint: `${upstream.receiverUrl}/v1/traces` } });
  });
  afterAll(async () => {
    await sidecar?.shutdown();
    await upstream?.shutdown();
  });

  it('relays protobuf, gzip and JSON bodies it accepted, so the upstream reports the same requests', async () => {
    const post = (body: Uint8Array | Buffer, contentType: string, headers: Record<string, string> = {}) =>
      fetch(`${sidecar.receiverUrl}/v1/traces`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': contentType, ...headers },
      });
    const protobuf = ProtobufTraceSerializer.serializeRequest(request('a1', '/items/:id')) as Uint8Array;
    const json = JsonTraceSerializer.serializeRequest(request('b2', '/carts/:id')) as Uint8Array;
    expect((await post(protobuf, 'application/x-protobuf')).status).toBe(200);
    const zipped = gzipSync(
      ProtobufTraceSerializer.serializeRequest(request('c3', '/users/:id')) as Uint8Array,
    );
    expect((await post(zipped, 'application/x-protobuf', { 'Content-Encoding': 'gzip' })).status).toBe(200);
    expect((await post(json, 'application/json')).status).toBe(200);

    const routesAt = async (s: RunningSidecar) =>
      (await getJson<Report<EndpointRow>>(`${s.apiUrl}/api/v1/reports/endpoints`)).rows
        .map((row) => `${row.route} ${row.requests} ${row.queriesPerRequest}`)
        .sort();
    const expected = ['/carts/:id 1 1', '/items/:id 1 1', '/users/:id 1 1'];
    expect(await waitFor(async () => (await routesAt(upstream)).length === 3 && routesAt(upstream))).toEqual(
      expected,
    );
    expect(await routesAt(sidecar)).toEqual(expected);

    const health = await getJson<{ forward: ForwardStats }>(`${sidecar.apiUrl}/healthz`);
    expect(health.forward).toMatchObject({ spansSent: 6, spansDropped: 0, spansRejected: 0, queuedBytes: 0 });
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^spanstat_sidecar_forwarded_spans_total\{outcome="sent"\} 6$/m);
    // The upstream does not forward, so it has no such series.
    expect(await (await fetch(`${upstream.apiUrl}/metrics`)).text()).not.toContain('forwarded_spans');
  });
});
