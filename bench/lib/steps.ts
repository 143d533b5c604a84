/**
 * The benches `npm run bench` runs, in order: each judged figure's bench, with the placeholder figure
 * reported when the bench itself fails. run.ts runs each in a child process of its own (run-step.ts).
 */
import { runAccuracyBench } from '../accuracy.bench';
import { runIngestBench } from '../ingest.bench';
import { runMemoryBench } from '../memory.bench';
import { runOverloadBench } from '../overload.bench';
import { runPreloadBench } from '../preload-overhead.bench';
import { runReportApiBench } from '../report-api.bench';
import type { BenchResult, Figure } from './figures';

/** What a step gets from the steps before it: the ingest bench's sustainable rate, which overload offers 3× of. */
export interface StepContext {
  sustainable?: number;
}

export interface Step {
  name: string;
  /** Figures reported as failed when the bench itself throws. */
  placeholder: Pick<Figure, 'id' | 'figure' | 'target'>;
  run(context: StepContext): Promise<BenchResult>;
}

export const log = (line: string) => console.log(`  ${line}`);

export const STEPS: Step[] = [
  {
    name: 'preload',
    placeholder: {
      id: 'preload.throughput-loss',
      figure: 'preload overhead',
      target: '≤ 10%, ≤ 1 ms, ≥ 1.5× stock',
    },
    run: () => runPreloadBench({ log }),
  },
  {
    name: 'ingest',
    placeholder: { id: 'ingest.end-to-end', figure: 'sidecar ingest', target: '≥ 100k spans/s' },
    run: () => runIngestBench({ log }),
  },
  {
    name: 'memory',
    placeholder: { id: 'memory.rss-max', figure: 'sidecar memory', target: '≤ 150 MB' },
    run: () => runMemoryBench({ log }),
  },
  {
    name: 'accuracy',
    placeholder: { id: 'accuracy.quantiles', figure: 'quantile accuracy', target: '≤ 1%' },
    run: () => runAccuracyBench({ log }),
  },
  {
    name: 'report-api',
    placeholder: { id: 'report-api.limited', figure: 'report API p99', target: '≤ 50 ms' },
    run: () => runReportApiBench({ log }),
  },
  {
    name: 'overload',
    placeholder: { id: 'overload.refusals', figure: 'overload', target: '429/503 + Retry-After' },
    run: (context) => runOverloadBench({ log, sustainable: context.sustainable }),
  },
];
