/** Side effect only: sets the CLI's V8 flags (see ./v8-flags) and libpg-query's WASM flag. */
import { setFlagsFromString } from 'node:v8';
import '../sql/wasm-flags';
import { chooseV8Flags } from './v8-flags';

for (const flag of chooseV8Flags(process.env, process.execArgv)) setFlagsFromString(flag);
