/**
 * What is logged of an unexpected error: its name and code, not its message — a message from
 * deeper in the pipeline could quote a statement or key, which must never reach a log.
 */
export function errorSummary(err: unknown): { name: string; code?: string } {
  if (!(err instanceof Error)) return { name: typeof err };
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? { name: err.name, code } : { name: err.name };
}
