/** Types for app.js, so TypeScript tests can build the app in-process over their own clients. */
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';

export declare function createApp(deps: { pool: Pool; redis: Redis }): Express;
