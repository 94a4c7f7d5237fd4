import { mkdirSync } from 'node:fs';
import {
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
  ClickHouseLogLevel,
  createClient,
} from '@clickhouse/client';

/**
 * ClickHouse in this process (chDB, the current engine), for `npm start` on a machine with no server. Loaded
 * only when asked for: it is a development dependency of about 500 MB that the Lambda never ships.
 */
export async function openEmbeddedClickHouse(path: string): Promise<ClickHouseClient> {
  mkdirSync(path, { recursive: true });
  const { createChdbConnection } = await import('chdb/connection');
  // chdb types its connection against a separate copy of the client's types; the shapes are the same.
  const connection = createChdbConnection({ path }) as unknown as ClickHouseClientConfigOptions['connection'];
  return createClient({ connection, log: { level: ClickHouseLogLevel.OFF } });
}
