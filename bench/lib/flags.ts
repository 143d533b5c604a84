/** Command-line flags of the benches and probes: `--name value`. */

/** Every value given for `--name`, in order (a trailing `--name` without a value is ignored). */
export function flagValues(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.argv.length - 1; i++)
    if (process.argv[i] === `--${name}`) out.push(process.argv[i + 1]);
  return out;
}

/** The number after the first `--name`, or undefined when the flag is absent (or has no value). */
export function flagNumber(name: string): number | undefined {
  const value = flagValues(name)[0];
  return value === undefined ? undefined : Number(value);
}
