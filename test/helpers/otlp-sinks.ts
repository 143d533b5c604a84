/**
 * Stand-in OTLP upstreams for the forwarding tests: they record what arrives (the path or method,
 * headers, the body as sent, after any gzip) and answer as the test says.
 */
import {
  createServer,
  type Server as HttpServer,
  type IncomingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { exportService } from '../../src/receiver/otlp-grpc-receiver';
import { type OtlpSignal, SIGNALS } from '../../src/receiver/signals';

export interface HttpArrival {
  /** Path and query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent, gunzipped when it came with Content-Encoding: gzip. */
  body: Buffer;
}

export interface HttpSink {
  /** http://127.0.0.1:port, no path. */
  url: string;
  arrivals: HttpArrival[];
  close(): Promise<void>;
}

/** An OTLP/HTTP upstream; `answer` writes the response (200 with an empty body unless it does). */
export async function httpSink(
  answer: (arrival: HttpArrival, res: ServerResponse) => void = (_, res) => res.writeHead(200).end(),
): Promise<HttpSink> {
  const arrivals: HttpArrival[] = [];
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const arrival = {
        path: req.url ?? '',
        headers: req.headers,
        body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw,
      };
      arrivals.push(arrival);
      answer(arrival, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface GrpcArrival {
  signal: OtlpSignal;
  /** The request message, as grpc-js hands it over (decompressed). */
  body: Buffer;
  metadata: Metadata;
}

export interface GrpcSink {
  /** http://127.0.0.1:port, as forward.endpoint takes it. */
  endpoint: string;
  arrivals: GrpcArrival[];
  close(): Promise<void>;
}

/** An OTLP/gRPC upstream serving TraceService, MetricsService and LogsService; each call answered success. */
export async function grpcSink(): Promise<GrpcSink> {
  const arrivals: GrpcArrival[] = [];
  const server = new Server();
  for (const signal of Object.keys(SIGNALS) as OtlpSignal[])
    server.addService(exportService(signal), {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        arrivals.push({ signal, body: call.request, metadata: call.metadata });
        callback(null, Buffer.alloc(0));
      },
    });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    arrivals,
    close: async () => {
      server.forceShutdown();
    },
  };
}
