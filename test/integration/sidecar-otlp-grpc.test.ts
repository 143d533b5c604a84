import { Client, credentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Reader } from 'protobufjs/minimal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanBatch } from '../../src/model/span';
import { OtlpGrpcReceiver, TRACE_EXPORT_PATH } from '../../src/receiver/otlp-grpc-receiver';
import { emptyReceiverStats, type ReceiverStats } from '../../src/receiver/receiver-types';
import type { QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { after as plusNs, readableSpan, T0 } from '../fixtures/otlp/spans';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const passThrough = (b: Buffer) => b;

function dbSpans(count: number, firstId: number): ReadableSpan[] {
  return Array.from({ length: count }, (_, i) =>
    readableSpan({
      name: 'pg.query:SELECT shop',
      kind: 2,
      traceId: hex(firstId + i, 32),
      spanId: hex(firstId + i, 16),
      start: T0,
      end: plusNs(T0, 2_000_000),
      attributes: {
        'db.system.name': 'postgresql',
        'db.query.text': `SELECT * FROM parcels WHERE tracking = 'TRK-${firstId + i}'`,
      },
    }),
  );
}

/** One raw TraceService/Export call (what a client of any language sends), the error if it failed. */
function rawExport(address: string, body: Buffer): Promise<ServiceError | undefined> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(TRACE_EXPORT_PATH, passThrough, passThrough, body, (err) => {
      client.close();
      resolve(err ?? undefined);
    });
  });
}

/** google.rpc.Status in grpc-status-details-bin → the RetryInfo delay in seconds, if any. */
function retryDelaySeconds(metadata: Metadata): number | undefined {
  const [details] = metadata.get('grpc-status-details-bin') as Buffer[];
  if (!details) return undefined;
  const fields = (bytes: Uint8Array) => {
    const r = Reader.create(bytes);
    const out = new Map<number, Uint8Array | number>();
    while (r.pos < r.len) {
      const tag = r.uint32();
      if ((tag & 7) === 2) out.set(tag >>> 3, r.bytes());
      else if ((tag & 7) === 0) out.set(tag >>> 3, r.uint32());
      else r.skipType(tag & 7);
    }
    return out;
  };
  const any = fields(fields(details).get(3) as Uint8Array);
  expect(Buffer.from(any.get(1) as Uint8Array).toString()).toBe('type.googleapis.com/google.rpc.RetryInfo');
  const duration = fields(fields(any.get(2) as Uint8Array).get(1) as Uint8Array);
  return duration.get(1) as number;
}

describe('sidecar over OTLP/gRPC', () => {
  let sidecar: RunningSidecar;
  let address: string;
  beforeAll(async () => {
    sidecar = await startTestSidecar({ receiver: { port: 0, grpcPort: 0 } });
    address = sidecar.grpcReceiverAddress as string;
  });
  afterAll(async () => {
    await sidecar?.shutdown();
  });

  it('listens only when receiver.grpcPort is set', async () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const plain = await startTestSidecar();
    try {
      expect(plain.grpcReceiverAddress).toBeUndefined();
    } finally {
      await plain.shutdown();
    }
  });

  it("takes the OpenTelemetry SDK's gRPC exporter's spans, gzip or not, into the reports without their literals", async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const exporter = new OTLPTraceExporter({ url: `http://${address}`, compression: compression as never });
      const spans = dbSpans(300, compression === 'gzip' ? 10_000 : 1);
      const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
        exporter.export(spans, resolve),
      );
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      await exporter.shutdown();
    }
    const report = await waitFor(async () => {
      const r = await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries`);
      return r.rows.find((row) => row.statement.includes('parcels') && row.calls === 600) ? r : undefined;
    });
    const row = report?.rows.find((r) => r.statement.includes('parcels'));
    expect(row?.calls).toBe(600);
    expect(JSON.stringify(report)).not.toContain('TRK-');
    expect(sidecar.receiver.stats.spansAccepted).toBeGreaterThanOrEqual(600);
  });

  it('answers a malformed request INVALID_ARGUMENT and counts it', async () => {
    const before = sidecar.receiver.stats.decodeErrors;
    const valid = Buffer.from(ProtobufTraceSerializer.serializeRequest(dbSpans(3, 50_000)) as Uint8Array);
    const err = await rawExport(address, valid.subarray(0, valid.length - 5));
    expect(err?.code).toBe(3);
    expect(err?.details).toMatch(/invalid protobuf/);
    expect(sidecar.receiver.stats.decodeErrors).toBe(before + 1);
    // The connection and the receiver are fine afterwards.
    expect(await rawExport(address, valid)).toBeUndefined();
  });

  it('answers an empty request with success', async () => {
    expect(await rawExport(address, Buffer.alloc(0))).toBeUndefined();
  });
});

describe('OtlpGrpcReceiver refusals', () => {
  const stats = emptyReceiverStats;
  const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(dbSpans(2, 90_000)) as Uint8Array);

  async function withReceiver(
    options: { overloaded?: boolean; onSpans?: (batch: SpanBatch) => void; maxBodyBytes?: number },
    run: (address: string, counters: ReceiverStats) => Promise<void>,
  ): Promise<void> {
    const counters = stats();
    const receiver = new OtlpGrpcReceiver(
      {
        host: '127.0.0.1',
        port: 0,
        maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
        retryAfterSeconds: 3,
        onSpans: options.onSpans ?? (() => undefined),
        isOverloaded: () => options.overloaded ?? false,
      },
      counters,
    );
    const { host, port } = await receiver.start();
    try {
      await run(`${host}:${port}`, counters);
    } finally {
      await receiver.shutdown();
    }
  }

  it('answers UNAVAILABLE with a RetryInfo of retryAfterSeconds while the pipeline is over its cap', async () => {
    await withReceiver({ overloaded: true }, async (address, counters) => {
      const err = await rawExport(address, body);
      expect(err?.code).toBe(14);
      expect(retryDelaySeconds(err?.metadata as Metadata)).toBe(3);
      expect(counters.overloaded).toBe(1);
      expect(counters.spansAccepted).toBe(0);
    });
  });

  it('answers INTERNAL when the pipeline throws, and counts the spans lost', async () => {
    const onSpans = () => {
      throw new Error('boom');
    };
    await withReceiver({ onSpans }, async (address, counters) => {
      const err = await rawExport(address, body);
      expect(err?.code).toBe(13);
      expect(counters.spansRefused).toBe(2);
    });
  });

  it('refuses a message over maxBodyBytes with RESOURCE_EXHAUSTED', async () => {
    await withReceiver({ maxBodyBytes: 64 }, async (address) => {
      expect((await rawExport(address, body))?.code).toBe(8);
    });
  });

  it('names the port and the setting when it cannot listen', async () => {
    await withReceiver({}, async (address) => {
      const taken = Number(address.split(':')[1]);
      const second = new OtlpGrpcReceiver(
        {
          host: '127.0.0.1',
          port: taken,
          maxBodyBytes: 1024,
          retryAfterSeconds: 1,
          onSpans: () => undefined,
          isOverloaded: () => false,
        },
        stats(),
      );
      await expect(second.start()).rejects.toThrow(/receiver.grpcPort/);
      await second.shutdown();
    });
  });
});
