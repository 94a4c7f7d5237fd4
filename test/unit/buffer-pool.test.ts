import { describe, expect, it } from 'vitest';
import { BufferPool, ChunkBufferStore, mostChunkBuffers } from '../../functions/core/pipeline/buffer-pool.ts';

describe('ChunkBufferStore', () => {
  it('makes its whole working set at the first take, and hands back what is given to it', () => {
    const store = new ChunkBufferStore(64, 2);
    expect(store.held).toBe(0);
    const first = store.take();
    expect(store.held).toBe(1);
    const second = store.take();
    expect(second.buffer).not.toBe(first.buffer);
    store.give(first);
    expect(store.take().buffer).toBe(first.buffer);
  });

  it('makes one more when asked past its working set, and keeps no more than that set', () => {
    const store = new ChunkBufferStore(64, 1);
    const buffers = [store.take(), store.take()];
    expect(buffers[1]?.buffer).not.toBe(buffers[0]?.buffer);
    for (const buffer of buffers) store.give(buffer);
    expect(store.held).toBe(1);
  });

  it('keeps no more buffers than it was told to, and none of another size', () => {
    const store = new ChunkBufferStore(64, 2);
    const buffers = [store.take(), store.take(), store.take()];
    for (const buffer of buffers) store.give(buffer);
    store.give(Buffer.alloc(32));
    expect(store.held).toBe(2);
  });

  it('does not keep the same memory twice, which would give it to two chunks at once', () => {
    const store = new ChunkBufferStore(64, 2);
    const buffer = store.take();
    store.take();
    store.give(buffer);
    store.give(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.length));
    expect(store.held).toBe(1);
  });
});

describe('BufferPool with a shared store', () => {
  it('returns full-size buffers to the store once released, for the next file', () => {
    const store = new ChunkBufferStore(64, 2);
    const firstFile = new BufferPool(64, 1, store);
    const taken = firstFile.acquire();
    firstFile.release(taken);
    expect(store.held).toBe(2);

    const secondFile = new BufferPool(64, 1, store);
    expect(secondFile.acquire().buffer).toBe(taken.buffer);
    expect(store.held).toBe(1);
  });

  it('takes a buffer returned as a chunk-sized view of it whole', () => {
    const store = new ChunkBufferStore(64, 2);
    const pool = new BufferPool(64, 1, store);
    const taken = pool.acquire();
    pool.release(taken.subarray(0, 10));
    expect(store.held).toBe(2);
    expect(pool.acquire().length).toBe(64);
  });

  it('fits a small file its own buffer and leaves the store untouched', () => {
    const store = new ChunkBufferStore(64, 2);
    const pool = new BufferPool(64, 1, store);
    pool.fitTo(10);
    const small = pool.acquire();
    expect(small.length).toBe(10);
    pool.release(small);
    expect(store.held).toBe(0);
  });
});

describe('mostChunkBuffers', () => {
  it('is one per insert in flight and one read ahead with one in flight; the read-ahead shares two or more', () => {
    expect([1, 2, 3, 4].map((insertsInFlight) => mostChunkBuffers({ insertsInFlight }))).toEqual([
      2, 2, 3, 4,
    ]);
  });
});
