/** Types for digest-job.js, so TypeScript tests can run the job in-process over their own clients. */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';

/** Starts the refresh-digest loop; the returned function stops it and resolves once the run in progress ends. */
export declare function startDigestJob(deps: {
  pool: Pool;
  redis: Redis;
  everyMs: number;
}): () => Promise<void>;
