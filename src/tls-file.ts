/** PEM files the config names (receiver and forward TLS), read once at start. */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { SpanstatError } from './errors';

/** The file's bytes; one that cannot be read stops the start with an error naming the setting and the file. */
export function readTlsFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SpanstatError(
      'SPANSTAT_ERR_TLS',
      `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
}

/**
 * Stops the start when the material read does not make a TLS context (a key that does not match its
 * certificate, a file that is not PEM), naming each `[setting, file]` pair given.
 */
export function assertUsableTls(named: readonly [string, string][], material: SecureContextOptions): void {
  try {
    createSecureContext(material);
  } catch (err) {
    throw new SpanstatError(
      'SPANSTAT_ERR_TLS',
      `${named.map(([setting, file]) => `${setting} ${file}`).join(' / ')}: ` +
        `not a usable certificate and key (${(err as Error).message})`,
      { cause: err },
    );
  }
}
