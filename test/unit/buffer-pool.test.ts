import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  BufferPool,
  ChunkBufferStore,
  chunkBufferSize,
  mostChunkBuffers,
  storeFor,
} from '../../functions/core/pipeline/buffer-pool.ts';

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

  it('ignores a buffer given twice while it is held, and one it never handed out', () => {
    const store = new ChunkBufferStore(64, 2);
    const buffer = store.take();
    const other = store.take();
    store.give(buffer);
    expect(store.take().buffer).toBe(buffer.buffer);
    store.give(buffer);
    store.give(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.length));
    expect(store.held).toBe(1);
    store.give(Buffer.alloc(64));
    expect(store.held).toBe(1);
    store.give(other);
    expect(store.held).toBe(2);
  });

  it('keeps no hold on a buffer that never comes back (a failed file), so the collector can free it', async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const store = new ChunkBufferStore(1024, 1);
    const lost = new WeakRef(store.take().buffer);
    // A WeakRef keeps its target alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    expect(lost.deref()).toBeUndefined();
  });

  it('makes its working set when told to, before any take, and only once', () => {
    const store = new ChunkBufferStore(64, 2);
    store.reserveNow();
    expect(store.reserved).toBe(true);
    expect(store.held).toBe(2);
    const first = store.take();
    expect(store.held).toBe(1);
    store.reserveNow();
    expect(store.held).toBe(1);
    store.give(first);
    expect(store.held).toBe(2);
  });

  it('makes only `reserve` buffers at the first take, and the rest when they are needed', () => {
    const store = new ChunkBufferStore(64, 2, 1);
    const first = store.take();
    expect(store.held).toBe(0);
    const second = store.take();
    expect(second.buffer).not.toBe(first.buffer);
    store.give(first);
    store.give(second);
    expect(store.held).toBe(2);
  });
});

describe('storeFor', () => {
  it('makes one buffer per insert in flight and keeps up to mostChunkBuffers', () => {
    const chunking = { maxBytes: 1000, maxRecordBytes: 100, insertsInFlight: 1 };
    const store = storeFor(chunking);
    expect(store.size).toBe(chunkBufferSize(chunking));
    expect([store.reserve, store.keep]).toEqual([1, 2]);
    expect([
      storeFor({ ...chunking, insertsInFlight: 2 }).reserve,
      storeFor({ ...chunking, insertsInFlight: 2 }).keep,
    ]).toEqual([2, 2]);
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

  it('gives a small file a full-size buffer once the store has made its buffers: no more memory than a large one', () => {
    const store = new ChunkBufferStore(64, 2);
    store.give(store.take());
    const pool = new BufferPool(64, 1, store);
    pool.fitTo(10);
    expect(pool.acquire().length).toBe(64);
    expect(store.held).toBe(1);
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
