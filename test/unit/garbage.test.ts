import { describe, expect, it } from 'vitest';
import { scavengingEvery } from '../../functions/core/pipeline/garbage.ts';

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
