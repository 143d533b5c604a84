/**
 * The TLS material the exporter's settings name (settings.ts `tlsFiles`), read once at start. A file
 * that cannot be read is reported and left out, never thrown: the app must start whatever the
 * telemetry settings say (the export then fails verification and is counted as dropped).
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { PreloadSettings } from './settings';

export interface ExportTls {
  /** Trusted in addition to Node's CAs (a private CA signing the sidecar's certificate). */
  ca?: (Buffer | string)[];
  cert?: Buffer;
  key?: Buffer;
}

export function readExportTls(files: PreloadSettings['tlsFiles'], problems: string[]): ExportTls | undefined {
  const read = (variable: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push(
        `${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
      return undefined;
    }
  };
  const ca = read('OTEL_EXPORTER_OTLP_CERTIFICATE', files.caFile);
  let cert = read('OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', files.clientCertFile);
  let key = read('OTEL_EXPORTER_OTLP_CLIENT_KEY', files.clientKeyFile);
  if (cert === undefined || key === undefined) {
    cert = undefined;
    key = undefined;
  }
  if (ca === undefined && cert === undefined) return undefined;
  // Node's own CAs stay trusted: `ca` alone would replace them.
  return { ca: ca === undefined ? undefined : [ca, ...rootCertificates], cert, key };
}
