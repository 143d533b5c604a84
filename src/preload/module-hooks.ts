/**
 * The base of the preload's pg, pg-pool, ioredis and Express instrumentations: their module
 * definitions are @opentelemetry/instrumentation's (InstrumentationNodeModuleDefinition/File: a
 * package or file name, the package versions it supports, patch and unpatch), but the require hook
 * is a require-in-the-middle Hook of their own that names those modules, not InstrumentationBase's.
 *
 * Why: every InstrumentationBase shares one process-wide require-in-the-middle hook over all modules,
 * made with the first instrumentation. That hook keeps the first export it sees of each module and
 * hands it out from then on without asking hooks registered later. Made by the preload, before an
 * app's own OpenTelemetry SDK exists, it would see `http` (which the SDK's own exporters load) and the
 * app's modules first, and the app's instrumentations would never patch them: its own tracing would
 * go silent. A hook that names its modules keeps only those, in a cache of its own.
 */
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import {
  type InstrumentationModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { Hook } from 'require-in-the-middle';
import { satisfies } from 'semver';
import { isPatched, markPatched } from './patch-mark';

type Patchable = Record<PropertyKey, unknown>;
type Method = (...args: never[]) => unknown;

/**
 * Two of shimmer's marks, which other tools read to see a wrapper and reach what it wraps. The third,
 * `__unwrap`, is kept under a symbol of our own: with it, @opentelemetry/instrumentation's `isWrapped`
 * takes our wrapper for the app's instrumentation's own earlier one, and instrumentation-pg,
 * -ioredis and -express unwrap it before wrapping (`if (isWrapped(x)) this._unwrap(…)`), so under an
 * app's own SDK with those the preload lost every query and Redis span and every Express route.
 */
const UNWRAP = Symbol('spanstat.unwrap');
interface Wrapped {
  __wrapped?: boolean;
  __original?: unknown;
  [UNWRAP]?: () => void;
}

export abstract class PreloadInstrumentation {
  private currentTracer: Tracer;
  private readonly modules: InstrumentationModuleDefinition[];
  private hook: Hook | undefined;

  constructor(
    readonly instrumentationName: string,
    readonly instrumentationVersion: string,
  ) {
    this.currentTracer = trace.getTracer(instrumentationName, instrumentationVersion);
    const modules = this.init();
    this.modules = Array.isArray(modules) ? modules : [modules];
    this.enable();
  }

  protected abstract init(): InstrumentationModuleDefinition | InstrumentationModuleDefinition[];

  get tracer(): Tracer {
    return this.currentTracer;
  }

  setTracerProvider(provider: TracerProvider): void {
    this.currentTracer = provider.getTracer(this.instrumentationName, this.instrumentationVersion);
  }

  /** Hooks `require` for the named modules (patching each as it loads); a second call does nothing. */
  enable(): void {
    if (this.hook !== undefined) return;
    const names = this.modules.flatMap((module) => [module.name, ...module.files.map((file) => file.name)]);
    this.hook = new Hook(names, { internals: true }, (exports, name, baseDir) =>
      this.onRequire(exports, name, baseDir),
    );
  }

  /** Unhooks `require` and unpatches what was patched (tests; apps never need it). */
  disable(): void {
    this.hook?.unhook();
    this.hook = undefined;
    for (const module of this.modules) {
      if (module.moduleExports !== undefined) module.unpatch?.(module.moduleExports, module.moduleVersion);
      for (const file of module.files)
        if (file.moduleExports !== undefined) file.unpatch(file.moduleExports, module.moduleVersion);
    }
  }

  /** Wraps `target[name]` with shimmer's marks; whatever is there already (another tool's wrapper) stays beneath. */
  protected _wrap(target: object, name: string, wrapper: (original: never) => unknown): void {
    const object = target as Patchable;
    const original = object[name];
    if (typeof original !== 'function') return;
    const wrapped = wrapper(original as never) as Method & Wrapped;
    const enumerable = Object.prototype.propertyIsEnumerable.call(object, name);
    mark(wrapped, '__original', original);
    mark(wrapped, UNWRAP, () => {
      if (object[name] === wrapped) define(object, name, original, enumerable);
    });
    mark(wrapped, '__wrapped', true);
    define(object, name, wrapped, enumerable);
  }

  /** Puts back what `_wrap` wrapped, unless someone wrapped over it since (their wrapper stays). */
  protected _unwrap(target: object, name: string): void {
    const wrapped = (target as Patchable)[name] as Wrapped | undefined;
    wrapped?.[UNWRAP]?.();
  }

  /**
   * Wraps the function `target[name]` with `wrapper`'s, marked as ours (patch-mark.ts), unless ours is
   * there already, also beneath another tool's wrapper. Whether it wrapped.
   */
  protected wrapOnce<F>(
    target: object | null | undefined,
    name: string,
    wrapper: (original: F) => unknown,
  ): boolean {
    const current = (target as Patchable | null | undefined)?.[name];
    if (typeof current !== 'function' || isPatched(current)) return false;
    this._wrap(target as object, name, (original: F) => markPatched(wrapper(original)));
    return true;
  }

  /** Puts back `target[name]` when the wrapper there is, or wraps, ours. */
  protected unwrapOurs(target: object | null | undefined, name: string): void {
    if (target && isPatched((target as Patchable)[name])) this._unwrap(target, name);
  }

  /**
   * The patch and unpatch of a module whose exports lead (`targetOf`, given the exports or undefined) to
   * an object — a class's prototype, or the exports themselves — whose methods `wrappers` wrap as it
   * loads (wrapOnce), put back when disabled (unwrapOurs).
   */
  protected methodsPatch<M>(
    targetOf: (exports: unknown) => object | null | undefined,
    wrappers: Record<string, (original: M) => unknown>,
  ): { patch: <T>(exports: T) => T; unpatch: (exports?: unknown) => void } {
    return {
      patch: (exports) => {
        const target = targetOf(exports);
        for (const [method, wrap] of Object.entries(wrappers)) this.wrapOnce(target, method, wrap);
        return exports;
      },
      unpatch: (exports) => {
        const target = targetOf(exports);
        for (const method of Object.keys(wrappers)) this.unwrapOurs(target, method);
      },
    };
  }

  /** The hook of a module `file` whose exports hold a class, its prototype's methods wrapped (methodsPatch). */
  protected prototypeMethodsFile<M>(
    file: string,
    versions: string[],
    prototypeOf: (exports: unknown) => object | null | undefined,
    wrappers: Record<string, (original: M) => unknown>,
  ): InstrumentationNodeModuleFile {
    const { patch, unpatch } = this.methodsPatch(prototypeOf, wrappers);
    return new InstrumentationNodeModuleFile(file, versions, patch, unpatch);
  }

  private onRequire<T>(exports: T, name: string, baseDir: string | undefined): T {
    // Core modules have no baseDir: none is hooked here.
    if (baseDir === undefined) return exports;
    const version = packageVersion(baseDir);
    if (version === undefined) return exports;
    const fileName = normalize(name);
    let patched: unknown = exports;
    for (const module of this.modules) {
      if (module.name === name) {
        if (!supports(module.supportedVersions, version)) continue;
        module.moduleVersion = version;
        module.moduleExports = patched;
        patched = module.patch?.(patched, version) ?? patched;
        continue;
      }
      for (const file of module.files) {
        if (file.name !== fileName || !supports(file.supportedVersions, version)) continue;
        module.moduleVersion = version;
        file.moduleExports = patched;
        patched = file.patch(patched, version) ?? patched;
      }
    }
    return patched as T;
  }
}

function supports(ranges: readonly string[], version: string): boolean {
  return ranges.some((range) => satisfies(version, range));
}

function packageVersion(baseDir: string): string | undefined {
  try {
    const version = (JSON.parse(readFileSync(join(baseDir, 'package.json'), 'utf8')) as { version?: unknown })
      .version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

function mark(fn: object, key: keyof Wrapped, value: unknown): void {
  Object.defineProperty(fn, key, { configurable: true, enumerable: false, writable: true, value });
}

function define(object: Patchable, name: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(object, name, { configurable: true, enumerable, writable: true, value });
}

/** The prototype of the class a module exports, as itself or as its `default` (an ES module's CommonJS build). */
export function exportedPrototype(exports: unknown): object | undefined {
  const module = exports as { prototype?: object; default?: { prototype?: object } } | null | undefined;
  return module?.prototype ?? module?.default?.prototype;
}
