/** An OTLP/HTTP receiver for the preload tools: answers every export 200 without decoding it. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Export requests answered so far. */
  readonly requests: number;
  close(): void;
}

/** Listens on a free loopback port. */
export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    close: () => server.close(),
  };
}
