import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from '@20minutes/s3rver';
import type { ClickHouseClient } from '@clickhouse/client';
import type { S3Event } from 'aws-lambda';
import { createS3Client } from '../core/adapters/s3-client.ts';
import { createClickHouseClient, resolveConnection } from '../core/clickhouse/client.ts';
import { ClickHouseWarehouse } from '../core/clickhouse/warehouse.ts';
import { configJson, parseConfig } from '../core/config/parse.ts';
import type { ChuteConfig } from '../core/config/schema.ts';
import type { IngestDependencies } from '../core/pipeline/ingest-object.ts';
import { s3IngestDependencies } from '../core/pipeline/s3-dependencies.ts';
import type { FileSummary } from '../core/pipeline/summary.ts';
import { processS3Event } from '../ingest/process-event.ts';
import type { Reporter } from '../ingest/reporting.ts';
import { openEmbeddedClickHouse } from './embedded-clickhouse.ts';
import { startQueryEndpoint } from './query-endpoint.ts';
import { asDeliveredByS3 } from './s3rver-events.ts';

export const LOCAL_BUCKET = 'chute-local';
export const DEMO_TABLE = 'chute_demo.orders';

/** The embedded defaults: files under `incoming/` are orders in CSV with a header. */
export const DEMO_ROUTES = [
  { name: 'orders', prefix: 'incoming/', format: 'csv', table: DEMO_TABLE },
] as const;

export interface LocalOptions {
  /** Where s3rver and chDB keep their files. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly s3Port: number;
  readonly queryPort: number;
  /** A real server instead of the embedded engine. */
  readonly clickhouseUrl?: string | undefined;
  /** Routes and tuning as JSON, like the Lambda's CHUTE_CONFIG; default: the demo route. */
  readonly configJson?: string | undefined;
  /** Called with each file's summary. */
  readonly onFile?: ((summary: FileSummary) => void) | undefined;
  readonly onSkip?: ((key: string, why: string) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
}

export interface LocalChute {
  readonly s3Endpoint: string;
  readonly queryUrl: string | undefined;
  readonly config: ChuteConfig;
  /** On the demo route (no routes configured): the demo table exists, and the sample belongs under its prefix. */
  readonly demo: boolean;
  readonly clickhouse: ClickHouseClient;
  readonly engine: string;
  /** Resolves when every event received so far has been handled. */
  idle(): Promise<void>;
  /**
   * Stops: the file being loaded finishes first; files waiting behind it, and files dropped from now on, are
   * not loaded (onSkip says so). Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * chute on one machine with nothing installed: an S3-compatible server whose notifications invoke the same
 * event processing the Lambda runs, one event at a time as a Lambda with reserved concurrency 1 would.
 */
export async function startLocal(options: LocalOptions): Promise<LocalChute> {
  const json = options.configJson ? configJson(options.configJson) : {};
  // The demo route, its table and its sample go together: only when the configuration brings no routes.
  const demo = json.routes === undefined;
  const config = parseConfig(
    { routes: DEMO_ROUTES, ...json, clickhouse: { url: options.clickhouseUrl ?? 'http://127.0.0.1:8123' } },
    options.configJson ? 'CHUTE_CONFIG' : 'local defaults',
  );
  const embedded = options.clickhouseUrl === undefined;
  const clickhouse = embedded
    ? await openEmbeddedClickHouse(`${options.dataDir}/chdb`)
    : createClickHouseClient(config.clickhouse);
  const defaultDatabase = embedded ? 'default' : resolveConnection(config.clickhouse).database;
  if (demo) await createDemoTable(clickhouse);

  mkdirSync(`${options.dataDir}/s3`, { recursive: true });
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: options.s3Port,
    directory: `${options.dataDir}/s3`,
    silent: true,
    configureBuckets: [{ name: LOCAL_BUCKET }],
  });
  const { port } = (await s3rver.run()) as AddressInfo;
  const s3Endpoint = `http://127.0.0.1:${port}`;
  const s3 = createS3Client({
    endpoint: s3Endpoint,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    verifyChecksums: config.s3.verifyChecksums,
  });
  // chDB takes an insert's settings faster in the INSERT's own SETTINGS clause (WarehouseOptions).
  const deps: IngestDependencies = s3IngestDependencies(s3, clickhouse, config, defaultDatabase, {
    settingsInQuery: embedded,
  });
  const reporter: Reporter = {
    file: (summary) => options.onFile?.(summary),
    unrouted: (_bucket, key, why) => options.onSkip?.(key, why),
    flush: () => undefined,
  };

  let queue: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;
  // Once stopping, an event not yet started is turned away (said, not loaded): only the file being loaded
  // finishes before the engine closes.
  const turnAway = (event: S3Event) => {
    for (const record of event.Records)
      options.onSkip?.(
        record.s3.object.key,
        'arrived while chute was stopping, or waited behind the file being loaded: not loaded; put it again once chute runs',
      );
  };
  s3rver.on('event', (raw: S3Event) => {
    const event = asDeliveredByS3(raw);
    if (closing !== undefined) return turnAway(event);
    // The PUT must not wait for the load, as S3 does not wait for Lambda.
    queue = queue.then(() =>
      closing !== undefined
        ? turnAway(event)
        : processS3Event(event, config, deps, reporter).then(
            () => undefined,
            (error: unknown) => options.onError?.(error),
          ),
    );
  });

  let query: Server | undefined;
  if (embedded) query = await startQueryEndpoint(clickhouse, options.queryPort);
  const queryPort = (query?.address() as AddressInfo | undefined)?.port;

  return {
    s3Endpoint,
    queryUrl: queryPort === undefined ? undefined : `http://127.0.0.1:${queryPort}`,
    config,
    demo,
    clickhouse,
    engine: embedded ? 'chDB (embedded ClickHouse)' : resolveConnection(config.clickhouse).url,
    idle: () => queue,
    close() {
      // Events from now on are turned away; the ones already taken finish (they read from s3rver and write
      // to the engine, so both stay open until then).
      closing ??= (async () => {
        await queue;
        query?.closeAllConnections();
        await new Promise((resolve) => (query ? query.close(resolve) : resolve(undefined)));
        const stopped = s3rver.close();
        s3rver.httpServer?.closeAllConnections();
        await stopped;
        s3.destroy();
        await clickhouse.close();
      })();
      return closing;
    },
  };
}

async function createDemoTable(client: ClickHouseClient): Promise<void> {
  const { dedupToken } = await new ClickHouseWarehouse(client).capabilities();
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS chute_demo' });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${DEMO_TABLE} (
      order_id UInt64, customer String, amount Float64, ordered_at DateTime, country String DEFAULT ''
    ) ENGINE = MergeTree ORDER BY order_id${dedupToken ? ' SETTINGS non_replicated_deduplication_window = 1000' : ''}`,
  });
}
