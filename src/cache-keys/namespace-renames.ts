/**
 * Namespace renames the learner made while a chunk of spans was being classified. The pipeline
 * classifies a whole chunk before any sink records it, so a rename heard by the aggregator mid-chunk
 * (`user:alice` → `user:*`) would find no row yet to fold, and the chunk's earlier cache calls would
 * then be recorded under the old, literal name for good. The pipeline renames them before the sinks
 * see the chunk, then forgets: later chunks are classified under the new names already.
 */
import type { CacheCall } from '../model/classified';

export class NamespaceRenames {
  private readonly renames = new Map<string, string>();

  /** The learner renamed `from` to `to` (NamespaceLearner.onMerge). */
  add(from: string, to: string): void {
    // A chain within one chunk (a → b, then b → c) ends where the last rename does.
    for (const [old, now] of this.renames) if (now === from) this.renames.set(old, to);
    this.renames.set(from, to);
  }

  get size(): number {
    return this.renames.size;
  }

  /** Renames the call's namespaces that were renamed since the last clear(). */
  apply(call: CacheCall): void {
    const renamed = this.renames.get(call.namespace);
    if (renamed !== undefined) call.namespace = renamed;
    if (call.otherNamespaceReads !== undefined)
      for (const reads of call.otherNamespaceReads)
        reads.namespace = this.renames.get(reads.namespace) ?? reads.namespace;
  }

  clear(): void {
    this.renames.clear();
  }
}
