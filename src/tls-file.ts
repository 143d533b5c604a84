/** PEM files the config names (receiver and forward TLS), read once at start. */
import { readFileSync } from 'node:fs';
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
