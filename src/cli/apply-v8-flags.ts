/** Side effect only: sets the CLI's V8 flags (see ./v8-flags) and libpg-query's WASM flag. */
import { setFlagsFromString } from 'node:v8';
import '../sql/wasm-flags';
import { chooseV8Flags, runtimeFlagProblem } from './v8-flags';

const flags = chooseV8Flags(process.env, process.execArgv);
const problem = runtimeFlagProblem(flags);
if (problem !== undefined) {
  // Before any other module loads: a usage error, like a bad config (exit code 2).
  console.error(`spanstat: ${problem}`);
  process.exit(2);
}
for (const flag of flags) setFlagsFromString(flag);
