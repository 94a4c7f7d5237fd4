import type { S3Client } from '@aws-sdk/client-s3';
import type { ClickHouseClient } from '@clickhouse/client';
import { S3ObjectStore } from '../adapters/s3-object-store.ts';
import { S3RejectsStore } from '../adapters/s3-rejects-store.ts';
import { clickHouseAdapters } from '../clickhouse/adapters.ts';
import type { WarehouseOptions } from '../clickhouse/warehouse.ts';
import type { ChuteConfig } from '../config/schema.ts';
import { type ChunkBufferStore, storeFor } from './buffer-pool.ts';
import type { IngestDependencies } from './ingest-object.ts';

/**
 * The pipeline's ports for objects in S3 (or an S3-compatible server) loading into one ClickHouse.
 * `warehouse` says how that ClickHouse takes insert settings (see WarehouseOptions; chDB differs);
 * `chunkBuffers`, the container's chunk buffers when it already has them.
 */
export function s3IngestDependencies(
  s3: S3Client,
  clickhouse: ClickHouseClient,
  config: ChuteConfig,
  defaultDatabase: string,
  warehouse: WarehouseOptions = {},
  chunkBuffers: ChunkBufferStore = storeFor(config.chunking),
): IngestDependencies {
  return {
    objects: new S3ObjectStore(s3),
    ...clickHouseAdapters(clickhouse, config.ledger.table, defaultDatabase, warehouse),
    rejects: new S3RejectsStore(s3, config.rejects.prefix),
    defaultDatabase,
    chunking: config.chunking,
    requestTimeoutMs: config.clickhouse.requestTimeoutMs,
    chunkBuffers,
  };
}
