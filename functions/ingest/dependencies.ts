import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ClickHouseClient } from '@clickhouse/client';
import { createS3Client } from '../core/adapters/s3-client.ts';
import { createClickHouseClient, resolveConnection } from '../core/clickhouse/client.ts';
import { configFromEnv } from '../core/config/parse.ts';
import type { ChunkingConfig, ChuteConfig } from '../core/config/schema.ts';
import { readClickHouseSecret } from '../core/config/secret.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../core/metric-names.ts';
import { type ChunkBufferStore, storeFor } from '../core/pipeline/buffer-pool.ts';
import type { IngestDependencies } from '../core/pipeline/ingest-object.ts';
import { s3IngestDependencies } from '../core/pipeline/s3-dependencies.ts';
import { powertoolsReporter, type Reporter } from './reporting.ts';

/**
 * Everything a warm container reuses, created once per container: the configuration (parsed and validated
 * in the function's init, see handler.ts, so a bad one fails the init, loudly, before any event), one S3
 * client, one ClickHouse client. Never one per event: that is how the importer chute replaces ran its server
 * out of memory.
 */
export interface Container {
  readonly config: ChuteConfig;
  readonly deps: IngestDependencies;
  readonly reporter: Reporter;
  readonly clickhouse: ClickHouseClient;
  readonly s3: S3Client;
}

/** The metrics' `service` dimension: the construct's name (its alarms watch that), else `chute`. */
const service = process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE;

export const logger = new Logger({ serviceName: service });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });

let container: Promise<Container> | undefined;

/** The container's dependencies; the first call builds them (reading the secret once), later calls reuse them. */
export function getContainer(env: NodeJS.ProcessEnv = process.env): Promise<Container> {
  container ??= buildContainer(env).catch((error: unknown) => {
    container = undefined; // a failed secret read is retried by the next invocation
    throw error;
  });
  return container;
}

/**
 * Closes the container's clients and forgets them, so that the next invocation builds them again and reads the
 * secret again: for when ClickHouse refused the credentials, which a rotation may have changed since the
 * container started. The one client per container stays the rule; it is replaced, never added to.
 */
export async function forgetContainer(): Promise<void> {
  const current = container;
  container = undefined;
  const built = await current?.catch(() => undefined);
  if (built === undefined) return;
  built.s3.destroy();
  await built.clickhouse.close().catch(() => undefined);
}

async function buildContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const config = configFromEnv(env);
  const secretArn = env.CLICKHOUSE_SECRET_ARN;
  const credentials = secretArn ? await readClickHouseSecret(secretArn) : undefined;
  const clickhouseConfig = credentials ? { ...config.clickhouse, ...credentials } : config.clickhouse;
  const clickhouse = createClickHouseClient(clickhouseConfig);
  const s3 = createS3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3 || undefined,
    verifyChecksums: config.s3.verifyChecksums,
    stallTimeoutMs: config.clickhouse.requestTimeoutMs,
  });
  // Once per container: the node flags in effect. Lambda's runtime may start node with its own
  // --max-semi-space-size on the command line, which would override the one chute sets in NODE_OPTIONS.
  logger.info('container started', {
    node: process.version,
    execArgv: process.execArgv,
    nodeOptions: env.NODE_OPTIONS ?? '',
  });
  const deps = s3IngestDependencies(
    s3,
    clickhouse,
    config,
    resolveConnection(clickhouseConfig).database,
    {},
    chunkBuffersFor(config.chunking),
  );
  return { config, clickhouse, s3, reporter: powertoolsReporter(logger, metrics), deps };
}

/**
 * The container's chunk buffers, made once and kept when the container is built again (a rotated secret):
 * they do not depend on the credentials, and new ones would sit beside the old until a full collection
 * (36 MiB more, measured). Made at once: in Lambda this runs in the function's init (handler.ts), so the first
 * file does not wait for them.
 */
let chunkBuffers: ChunkBufferStore | undefined;

function chunkBuffersFor(chunking: ChunkingConfig): ChunkBufferStore {
  const wanted = storeFor(chunking); // holds no buffer until one is asked for
  const kept = chunkBuffers;
  const same =
    kept !== undefined &&
    kept.size === wanted.size &&
    kept.keep === wanted.keep &&
    kept.reserve === wanted.reserve;
  const store = same ? kept : wanted;
  chunkBuffers = store;
  store.reserveNow();
  return store;
}
