import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { measurePipeline } from './ingest.bench';
async function main() {
  const stream = new BatchStream(buildTemplates({ templates: 8, spansPerBatch: 512, seed: 7 }));
  const r = await measurePipeline(stream, 2, 40);
  console.log(r);
}
main();
