/**
 * TLS for both receivers, from the config's file paths: a certificate and key make them serve
 * HTTPS and gRPC over TLS; a client CA on top makes them require client certificates it signed
 * (mutual TLS), as the OpenTelemetry Collector's `tls.client_ca_file` does. The files are read
 * once at start; a file that cannot be read, or a key that does not match its certificate,
 * stops the start with an error naming the setting and the file.
 */
import { SpanstatError } from '../errors';
import { assertUsableTls, readTlsFile } from '../tls-file';

export interface ReceiverTls {
  cert: Buffer;
  key: Buffer;
  /** Client certificates must chain to this CA (mutual TLS); undefined: none asked for. */
  clientCa: Buffer | undefined;
}

export interface ReceiverTlsFiles {
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsClientCaFile?: string;
}

/** The TLS material the receiver settings name, or undefined when they name none. */
export function loadReceiverTls(files: ReceiverTlsFiles): ReceiverTls | undefined {
  if (files.tlsCertFile === undefined && files.tlsKeyFile === undefined) return undefined;
  const cert = readSetting('receiver.tlsCertFile', files.tlsCertFile);
  const key = readSetting('receiver.tlsKeyFile', files.tlsKeyFile);
  const clientCa =
    files.tlsClientCaFile === undefined
      ? undefined
      : readSetting('receiver.tlsClientCaFile', files.tlsClientCaFile);
  const named: [string, string][] = [
    ['receiver.tlsCertFile', files.tlsCertFile as string],
    ['receiver.tlsKeyFile', files.tlsKeyFile as string],
  ];
  if (files.tlsClientCaFile !== undefined) named.push(['receiver.tlsClientCaFile', files.tlsClientCaFile]);
  assertUsableTls(named, { cert, key, ca: clientCa });
  return { cert, key, clientCa };
}

function readSetting(setting: string, file: string | undefined): Buffer {
  if (file === undefined)
    throw new SpanstatError(
      'SPANSTAT_ERR_TLS',
      `${setting} is required with TLS (set both the certificate and the key)`,
    );
  return readTlsFile(setting, file);
}
