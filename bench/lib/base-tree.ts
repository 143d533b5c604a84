/** A git revision checked out and built beside the work tree, for before/after benches. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/demo-stack';

export interface BaseTree {
  /** The revision's `dist/`, built with the work tree's TypeScript and node_modules. */
  dist: string;
  /** Removes the worktree and its build. */
  remove(): void;
}

/** Checks `rev` out in a temporary git worktree (node_modules linked from the work tree) and builds it. */
export function buildBaseTree(rev: string): BaseTree {
  const work = mkdtempSync(join(tmpdir(), 'spanstat-base-'));
  const tree = join(work, 'base');
  const remove = () => {
    try {
      execFileSync('git', ['-C', REPO_ROOT, 'worktree', 'remove', '--force', tree], { stdio: 'ignore' });
    } catch {
      // Not added (a bad revision): only the directory is left to remove.
    }
    rmSync(work, { recursive: true, force: true });
  };
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'worktree', 'add', '--detach', tree, rev], { stdio: 'ignore' });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', tree]);
  } catch (err) {
    remove();
    throw err;
  }
  return { dist: join(tree, 'dist'), remove };
}
