import { describe, expect, it } from 'vitest';
import { scavengingEvery } from '../../functions/core/pipeline/garbage.ts';

// A file of its own: garbage.ts looks for its collector once per module instance, and this test must be the
// first to ask, so that its stand-in is the one found.

async function* megabytes(count: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(1024 * 1024, i);
}

describe('scavengingEvery during a long load', () => {
  it('runs a full collection once the heap has grown by a few MiB, and only scavenges otherwise', async () => {
    // A stand-in collector, installed before garbage.ts first looks for one: it records what was asked.
    const calls: string[] = [];
    const global = globalThis as { gc?: unknown };
    const previous = global.gc;
    global.gc = (options?: { type: string }) => calls.push(options?.type ?? 'major');
    try {
      const retained: number[][] = [];
      // 64 pieces of 1 MiB with a 1 MiB budget: 64 scavenges, so 4 looks at the heap.
      const pieces = megabytes(64);
      let index = 0;
      for await (const _ of scavengingEvery(pieces, 1024 * 1024)) {
        // From the first look on, the loop keeps 8 MB of JS arrays alive: the heap grows past the slack.
        if (index++ === 20) for (let i = 0; i < 8; i++) retained.push(new Array(131_072).fill(1.5));
      }
      expect(calls.filter((type) => type === 'minor')).toHaveLength(64);
      expect(calls.filter((type) => type === 'major').length).toBeGreaterThanOrEqual(1);
      expect(retained).toHaveLength(8);
    } finally {
      global.gc = previous;
    }
  });
});
