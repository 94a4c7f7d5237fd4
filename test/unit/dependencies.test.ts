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

  it('keeps its chunk buffers when it is built again, unless the chunking asks for others', async () => {
    const first = await getContainer(ENV);
    await forgetContainer();
    const rebuilt = await getContainer(ENV);
    expect(rebuilt).not.toBe(first);
    // New buffers would sit beside the old ones until a full collection.
    expect(rebuilt.deps.chunkBuffers).toBe(first.deps.chunkBuffers);
    await forgetContainer();

    const config = JSON.parse(ENV.CHUTE_CONFIG) as Record<string, unknown>;
    const other = await getContainer({
      ...ENV,
      CHUTE_CONFIG: JSON.stringify({ ...config, chunking: { maxBytes: 4 * 1024 * 1024 } }),
    });
    expect(other.deps.chunkBuffers).not.toBe(first.deps.chunkBuffers);
    expect(other.deps.chunkBuffers?.size).toBe(chunkBufferSize(other.config.chunking));
    expect(other.deps.chunkBuffers?.held).toBe(other.config.chunking.insertsInFlight);
    await forgetContainer();
  });
});
