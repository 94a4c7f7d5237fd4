import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scavengingEvery } from '../../functions/core/pipeline/garbage.ts';
import { runNodeJsonProcess } from '../fixtures/node-json-process.ts';

async function* piecesOf(sizes: readonly number[]): AsyncGenerator<Buffer> {
  for (const [i, size] of sizes.entries()) yield Buffer.alloc(size, i);
}

describe('scavengingEvery', () => {
  it('passes every piece through, the same buffers in the same order, whatever the budget', async () => {
    const sizes = [10, 3_000_000, 5, 2_097_152, 1, 700_000];
    for (const budget of [1, 1024, 2 * 1024 * 1024, Number.MAX_SAFE_INTEGER]) {
      const seen: Buffer[] = [];
      for await (const piece of scavengingEvery(piecesOf(sizes), budget)) seen.push(piece);
      expect(seen.map((piece) => piece.length)).toEqual(sizes);
      expect(seen.map((piece) => piece[0] ?? -1)).toEqual(sizes.map((_, i) => i));
    }
  });

  it('passes a failure of its source through', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(4);
      throw new Error('socket reset');
    }
    const read = async () => {
      for await (const _ of scavengingEvery(failing(), 1));
    };
    await expect(read()).rejects.toThrow('socket reset');
  });
});

describe('collections on the function thread', () => {
  const script = fileURLToPath(new URL('../fixtures/scavenge-threads.ts', import.meta.url));

  /**
   * The background (worker thread) time of each scavenge V8 traced after the script's marker, and what the
   * process wrote to stderr (where V8 names a flag it does not know). Only the scavenge flag shows in the trace:
   * the array-buffer sweep's background time has no field of its own, so that flag is checked as known only.
   */
  async function backgroundScavengeMs(
    mode: 'load' | 'before',
  ): Promise<{ background: number[]; stderr: string }> {
    const run = await runNodeJsonProcess<{ done: boolean }>({
      what: 'scavenge process',
      // A 1 MiB young generation: many scavenges, whatever the node version's default size.
      args: ['--import', 'tsx', '--trace-gc-nvp', '--max-semi-space-size=1', script, mode],
      env: { ...process.env, NODE_OPTIONS: '' },
      timeoutMs: 60_000,
    });
    const afterMark = run.earlierLines.slice(run.earlierLines.indexOf('MARK') + 1);
    const background = afterMark
      .filter((line) => line.includes(' gc=s '))
      .map((line) => Number(/background\.scavenge\.parallel=([0-9.]+)/.exec(line)?.[1] ?? Number.NaN));
    return { background, stderr: run.stderr };
  }

  it('keeps scavenges off worker threads once chute has collected (V8 parallelizes them by default)', async () => {
    const before = await backgroundScavengeMs('before');
    expect(before.background.length).toBeGreaterThan(5);
    expect(before.background.some((ms) => ms > 0)).toBe(true);

    const after = await backgroundScavengeMs('load');
    expect(after.background.length).toBeGreaterThan(5);
    expect(after.background).toEqual(after.background.map(() => 0));
    // Each flag is one this node knows: V8 names one it does not on stderr, and goes on without it.
    expect(after.stderr).not.toContain('unrecognized flag');
  });
});
