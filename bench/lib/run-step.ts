/**
 * One step of `npm run bench` in a process of its own (run.ts starts it):
 *
 *   tsx bench/lib/run-step.ts <step> <result.json> [<sustainable spans/s>]
 *
 * Runs the step, prints its log lines, and writes its BenchResult to <result.json>.
 */
import { writeFileSync } from 'node:fs';
import { STEPS } from './steps';

async function main(): Promise<void> {
  const [name, resultFile, sustainable] = process.argv.slice(2);
  const step = STEPS.find((s) => s.name === name);
  if (!step || !resultFile)
    throw new Error(`usage: run-step.ts <${STEPS.map((s) => s.name).join('|')}> <result.json> [sustainable]`);
  const result = await step.run({ sustainable: sustainable === undefined ? undefined : Number(sustainable) });
  writeFileSync(resultFile, JSON.stringify(result));
}

main().then(
  // Servers a bench left behind must not keep the step alive once its result is written.
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
