/**
 * OpenTelemetry packages the preload uses that package.json only has transitively
 * (@opentelemetry/core via sdk-trace-base, @opentelemetry/context-async-hooks via sdk-node).
 * They are loaded through the package that depends on them, so this works whether or not npm
 * hoisted them to the top of node_modules.
 */
import { createRequire } from 'node:module';
import type * as AsyncHooks from '@opentelemetry/context-async-hooks';
import type * as Core from '@opentelemetry/core';

function loadVia<T>(name: string, dependent: string): T {
  try {
    return createRequire(require.resolve(dependent))(name) as T;
  } catch {
    return require(name) as T;
  }
}

export function loadCore(): typeof Core {
  return loadVia<typeof Core>('@opentelemetry/core', '@opentelemetry/sdk-trace-base');
}

export function loadAsyncHooks(): typeof AsyncHooks {
  return loadVia<typeof AsyncHooks>('@opentelemetry/context-async-hooks', '@opentelemetry/sdk-node');
}
