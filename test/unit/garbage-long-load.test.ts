import { describe, expect, it } from 'vitest';
import { HeapWatch, scavengingEvery } from '../../functions/core/pipeline/garbage.ts';

const MiB = 1024 * 1024;

async function* megabytes(count: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(MiB, i);
}

describe('HeapWatch', () => {
  it('takes its first look as the baseline and is due once the heap has grown the slack', () => {
    const watch = new HeapWatch(4 * MiB);
    expect(watch.due(10 * MiB)).toBe(false);
    expect(watch.due(13 * MiB)).toBe(false);
    expect(watch.due(14 * MiB)).toBe(true);
  });

  it('measures from what the last collection left, and from a lower heap when it sees one', () => {
    const watch = new HeapWatch(4 * MiB);
    watch.due(10 * MiB);
    watch.collected(15 * MiB, 11 * MiB);
    expect(watch.due(14 * MiB)).toBe(false);
    expect(watch.due(15 * MiB)).toBe(true);
    expect(watch.due(9 * MiB)).toBe(false);
    expect(watch.due(13 * MiB)).toBe(true);
  });

  it('doubles its slack, up to its maximum, when a collection frees less than half of it', () => {
    const watch = new HeapWatch(4 * MiB, 16 * MiB);
    watch.collected(20 * MiB, 17 * MiB); // 3 MiB freed: not less than half of 4
    expect(watch.slack).toBe(4 * MiB);
    watch.collected(20 * MiB, 19 * MiB);
    expect(watch.slack).toBe(8 * MiB);
    watch.collected(30 * MiB, 29 * MiB);
    watch.collected(40 * MiB, 39 * MiB);
    expect(watch.slack).toBe(16 * MiB);
  });
});

describe('scavengingEvery during a long load', () => {
  it('looks at the heap every 16 scavenges and collects in full only once it has grown 4 MiB', async () => {
    // What the heap reads, in order: one read per look, and one more after a full collection.
    const reads = [10 * MiB, 15 * MiB, 10 * MiB, 11 * MiB, 12 * MiB];
    let piece = 0;
    const majorAfterPiece: number[] = [];
    const heap = {
      heapUsed: () => reads.shift() ?? Number.NaN,
      collectMajor: () => majorAfterPiece.push(piece),
    };
    for await (const _ of scavengingEvery(megabytes(64), MiB, heap)) piece++;
    expect(piece).toBe(64);
    // 1 MiB pieces, 1 MiB budget: looks after pieces 16, 32, 48 and 64; only the second finds 5 MiB of growth.
    expect(majorAfterPiece).toEqual([32]);
    expect(reads).toEqual([]);
  });
});
