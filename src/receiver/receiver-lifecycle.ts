import { errorSummary } from './error-summary';
import type { ReceiverOptions } from './receiver-types';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Start once, shut down once, around a transport's listen and close; shared by the OTLP/HTTP and
 * OTLP/gRPC receivers, which differ only in the transport.
 */
export abstract class ReceiverLifecycle {
  private starting: Promise<ListenAddress> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(protected readonly options: ReceiverOptions) {}

  /** Listens; a failed start (e.g. port in use) closes what it opened and can be retried. */
  start(): Promise<ListenAddress> {
    if (this.stopping) return Promise.reject(new Error('the OTLP receiver was shut down'));
    this.starting ??= this.listen().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  /** Stops accepting, lets in-flight requests finish (up to a grace period). Safe twice and before start. */
  shutdown(): Promise<void> {
    this.stopping ??= this.startSettled().then(() => this.close());
    return this.stopping;
  }

  protected abstract listen(): Promise<ListenAddress>;

  /** Closes what listen() opened (called once a start in progress has settled). */
  protected abstract close(): Promise<void>;

  /** The pipeline's overload flag; a throwing check accepts rather than refusing everything. */
  protected overloaded(): boolean {
    try {
      return this.options.isOverloaded();
    } catch (err) {
      this.options.logger?.warn({ error: errorSummary(err) }, 'OTLP receiver: isOverloaded threw; accepting');
      return false;
    }
  }

  private startSettled(): Promise<unknown> {
    return this.starting?.catch(() => undefined) ?? Promise.resolve();
  }
}
