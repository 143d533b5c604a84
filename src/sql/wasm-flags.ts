/**
 * Keeps libpg-query's WASM on V8's baseline compiler (Liftoff). Imported for its side effect,
 * before anything requires `libpg-query`: the package starts compiling its module as soon as it
 * is required, and a flag set after that is only partly honoured. Measured (30k parses of 3k
 * shapes, Node 20): flag set before the require, RSS 68 MB; set after it (as `create()` used to),
 * 136 MB; never set, 196 MB (TurboFan compiling the PostgreSQL grammar), for 25% less parse CPU.
 * `SqlFingerprinter.create({ wasmTierUp: true })` turns tier-up back on.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
