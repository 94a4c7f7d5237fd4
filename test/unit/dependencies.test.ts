import { describe, expect, it } from 'vitest';
import {
  ChunkBufferStore,
  chunkBufferSize,
  mostChunkBuffers,
} from '../../functions/core/pipeline/buffer-pool.ts';
import { forgetContainer, getContainer } from '../../functions/ingest/dependencies.ts';

const ENV = {
  CHUTE_CONFIG: JSON.stringify({ routes: [{ prefix: 'in/', table: 'events', format: 'csv' }] }),
  CLICKHOUSE_URL: 'http://127.0.0.1:8123',
};

describe('the container', () => {
  it('is built once and reused, until it is forgotten; then built afresh', async () => {
    const first = await getContainer(ENV);
    expect(await getContainer(ENV)).toBe(first);
    await forgetContainer();
    const second = await getContainer(ENV);
    expect(second).not.toBe(first);
    expect(second.clickhouse).not.toBe(first.clickhouse);
    await forgetContainer();
  });

  it('keeps one store of chunk buffers for every file it loads, sized by the chunking', async () => {
    const container = await getContainer(ENV);
    const store = container.deps.chunkBuffers;
    expect(store).toBeInstanceOf(ChunkBufferStore);
    expect(store?.size).toBe(chunkBufferSize(container.config.chunking));
    expect(store?.keep).toBe(mostChunkBuffers(container.config.chunking));
    // Made while the container is built (Lambda's init), not by the first file.
    expect(store?.held).toBe(container.config.chunking.insertsInFlight);
    expect((await getContainer(ENV)).deps.chunkBuffers).toBe(store);
    await forgetContainer();
  });
});
