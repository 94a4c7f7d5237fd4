import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { clickHouseErrorCode } from '../clickhouse/error-code.ts';
import { parseTableName, type TableRef, tableLabel } from '../clickhouse/sql.ts';
import { routeName } from '../config/routes.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError, describeError } from '../errors.ts';
import type {
  ObjectRef,
  ObjectStore,
  RejectedRow,
  RejectsStore,
  RejectsWriter,
} from '../ports/object-store.ts';
import type { ServerCapabilities, TableColumn, Warehouse } from '../ports/warehouse.ts';
import { BufferPool } from './buffer-pool.ts';
import { type Chunk, chunkRows } from './chunk.ts';
import { type ChunkInsertTarget, loadChunk } from './chunk-loader.ts';
import { chunkBufferSize } from './chunker.ts';
import { type ColumnPlan, planColumns } from './column-plan.ts';
import { decompress } from './decompress.ts';
import { readChunks } from './read-chunks.ts';
import type { FileSummary, Progress } from './summary.ts';

export interface IngestDependencies {
  readonly objects: ObjectStore;
  readonly warehouse: Warehouse;
  readonly rejects: RejectsStore;
  /** Database for route tables given without one. */
  readonly defaultDatabase: string;
  readonly chunking: ChunkingConfig;
}

export interface IngestOptions {
  /** Called after every chunk, for progress lines on long files. */
  readonly onProgress?: ((progress: Progress) => void) | undefined;
  /** Milliseconds left before the caller must stop (Lambda's remaining time). */
  readonly remainingTimeMs?: (() => number) | undefined;
  /** Stop starting chunks when less than this is left. Default 30000. */
  readonly headroomMs?: number | undefined;
}

/** At most one more chunk is read while the current one inserts: S3 reads overlap inserts, memory stays flat. */
const PREFETCH_CHUNKS = 1;

/**
 * The pipeline shared by the Lambda, the CLI and the local runner: one object version in, rows in ClickHouse
 * and rejects out, and one summary. It never throws for a file's own failure: the summary says `failed`
 * with the reason, and the caller decides (the Lambda fails the invocation so that AWS retries).
 */
export async function ingestObject(
  deps: IngestDependencies,
  route: Route,
  ref: ObjectRef,
  options: IngestOptions = {},
): Promise<FileSummary> {
  const started = Date.now();
  const where = `s3://${ref.bucket}/${ref.key}`;
  const table = parseTableName(route.table, deps.defaultDatabase);
  const summary: FileSummary = {
    status: 'loaded',
    bucket: ref.bucket,
    key: ref.key,
    versionId: ref.versionId,
    eTag: ref.eTag,
    route: routeName(route),
    table: tableLabel(table),
    bytes: 0,
    bytesDecompressed: 0,
    rowsRead: 0,
    rowsInserted: 0,
    rowsRejected: 0,
    blankLines: 0,
    chunks: 0,
    inserts: 0,
    rejectsLocation: undefined,
    durationMs: 0,
  };
  let body: Readable | undefined;
  let rejectsWriter: RejectsWriter | undefined;
  const finish = (): FileSummary => {
    summary.durationMs = Date.now() - started;
    return summary;
  };
  try {
    const [capabilities, columns] = await Promise.all([
      deps.warehouse.capabilities(),
      describe(deps.warehouse, table, where),
    ]);
    const opened = await deps.objects.open(ref);
    if (opened === undefined) {
      summary.status = 'skipped';
      summary.reason =
        'the object version no longer exists (deleted or overwritten before its event was handled)';
      return finish();
    }
    body = opened.body;
    summary.versionId ??= opened.versionId;
    summary.eTag ??= opened.eTag;

    const counts = { rows: 0, blankLines: 0, bytes: 0 };
    const pool = new BufferPool(chunkBufferSize(deps.chunking, 0));
    let plan: ColumnPlan | undefined =
      route.format !== 'ndjson' && !route.header && route.columns !== undefined
        ? planColumns(route, route.columns, columns, capabilities, where)
        : undefined;
    const chunks = readChunks(
      decompress(countBytes(opened.body, summary), route.compression, ref.key),
      route,
      deps.chunking,
      where,
      {
        counts,
        pool,
        onHeader: (names) => {
          plan = planColumns(route, names, columns, capabilities, where);
          return { repeatHeader: plan.repeatHeader };
        },
      },
    );

    const tokenBase = versionToken(ref, summary);
    let target: ChunkInsertTarget | undefined;
    const rejectedSoFar = () => summary.rowsRejected;
    const recordRejects = async (rows: readonly RejectedRow[]) => {
      if (rows.length === 0) return;
      if (route.badRows.policy === 'fail') {
        const first = rows[0];
        throw new ChuteError(
          'REJECT_LIMIT_EXCEEDED',
          `${where}, line ${first?.line}: ${first?.reason} (badRows.policy is "fail")`,
        );
      }
      rejectsWriter ??= deps.rejects.create({ ...ref, versionId: summary.versionId, eTag: summary.eTag });
      for (const row of rows) await rejectsWriter.write(row);
      summary.rowsRejected += rows.length;
      if (rejectedSoFar() > route.badRows.maxRejectedRows) {
        throw new ChuteError(
          'REJECT_LIMIT_EXCEEDED',
          `${where}: more than ${route.badRows.maxRejectedRows} rows rejected (last at line ${rows[rows.length - 1]?.line}: ${rows[rows.length - 1]?.reason}); the file is failed. Fix the file, or raise badRows.maxRejectedRows`,
        );
      }
    };

    const iterator = chunks[Symbol.asyncIterator]();
    const ahead: Promise<IteratorResult<Chunk>>[] = [];
    const pull = () => {
      const next = iterator.next();
      next.catch(() => undefined); // surfaced when awaited below
      ahead.push(next);
    };
    pull();
    try {
      for (;;) {
        const current = ahead.shift();
        if (current === undefined) break;
        const result = await current;
        if (result.done) break;
        const chunk = result.value;
        while (ahead.length < PREFETCH_CHUNKS) pull();

        checkHeadroom(options, where, chunk);
        summary.chunks++;
        await recordRejects(chunk.rejected);
        if (chunkRows(chunk) > 0) {
          if (target === undefined) {
            plan ??= planNdjson(route, chunk, columns, capabilities, where);
            target = insertTarget(deps.warehouse, table, plan, route, capabilities, deps.chunking, tokenBase);
          }
          const outcome = await loadChunk(chunk, target, route.badRows.policy, where);
          summary.inserts += outcome.inserts;
          summary.rowsInserted += outcome.inserted;
          await recordRejects(outcome.rejected);
        }
        pool.release(chunk.body);
        options.onProgress?.({
          bytes: summary.bytes,
          bytesDecompressed: chunk.bytesThrough,
          rowsInserted: summary.rowsInserted,
          rowsRejected: summary.rowsRejected,
          chunks: summary.chunks,
          elapsedMs: Date.now() - started,
        });
      }
    } finally {
      await iterator.return?.(undefined).catch(() => undefined);
    }
    summary.rowsRead = counts.rows;
    summary.blankLines = counts.blankLines;
    summary.bytesDecompressed = counts.bytes;
    if (summary.rowsRead !== summary.rowsInserted + summary.rowsRejected) {
      throw new ChuteError(
        'CLICKHOUSE_FAILED',
        `${where}: ${summary.rowsRead} rows read but ${summary.rowsInserted} inserted + ${summary.rowsRejected} rejected; this is a chute bug, please report it`,
      );
    }
    if (rejectsWriter !== undefined) summary.rejectsLocation = await rejectsWriter.close();
    return finish();
  } catch (error) {
    summary.status = 'failed';
    summary.reason = describeError(error);
    summary.errorCode = error instanceof ChuteError ? error.code : 'CLICKHOUSE_FAILED';
    if (rejectsWriter !== undefined) {
      // Keep what was rejected so far: it is usually what explains the failure.
      summary.rejectsLocation = await rejectsWriter.close().catch(() => undefined);
    }
    return finish();
  } finally {
    body?.destroy();
  }
}

async function describe(
  warehouse: Warehouse,
  table: TableRef,
  where: string,
): Promise<readonly TableColumn[]> {
  try {
    return await warehouse.describeTable(table);
  } catch (error) {
    const code = clickHouseErrorCode(error);
    if (error instanceof Error && (code === '60' || code === '81')) {
      throw new ChuteError(
        'SCHEMA_MISMATCH',
        `${where}: table ${tableLabel(table)} does not exist (${error.message.split('\n')[0]}); create it or fix the route's table`,
        { cause: error },
      );
    }
    throw new ChuteError('CLICKHOUSE_FAILED', `${where}: cannot describe table ${tableLabel(table)}`, {
      cause: error,
    });
  }
}

function checkHeadroom(options: IngestOptions, where: string, chunk: Chunk): void {
  const remaining = options.remainingTimeMs?.();
  const headroom = options.headroomMs ?? 30_000;
  if (remaining !== undefined && remaining < headroom) {
    throw new ChuteError(
      'TIMEOUT_HEADROOM',
      `${where}: stopped before chunk ${chunk.index} with ${remaining} ms left (headroom ${headroom} ms); the retry resumes and committed chunks deduplicate`,
    );
  }
}

/** NDJSON has no header: the first row that parses as an object names the columns to check. */
function planNdjson(
  route: Route,
  chunk: Chunk,
  columns: readonly TableColumn[],
  capabilities: ServerCapabilities,
  where: string,
): ColumnPlan {
  for (let i = 0; i < Math.min(chunkRows(chunk), 100); i++) {
    const start = chunk.offsets[i] ?? 0;
    const end = chunk.offsets[i + 1] ?? start;
    try {
      const value: unknown = JSON.parse(chunk.body.toString('utf8', start, end));
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        return planColumns(
          route,
          Object.keys(value),
          columns,
          capabilities,
          `${where}, line ${chunk.lines[i]}`,
        );
      }
    } catch {
      // A row that does not parse is ClickHouse's to reject; look at the next one.
    }
  }
  return planColumns(
    route,
    columns.filter((c) => c.defaultKind === '').map((c) => c.name),
    columns,
    capabilities,
    where,
  );
}

function insertTarget(
  warehouse: Warehouse,
  table: TableRef,
  plan: ColumnPlan,
  route: Route,
  capabilities: ServerCapabilities,
  chunking: ChunkingConfig,
  tokenBase: string,
): ChunkInsertTarget {
  const settings: Record<string, string | number> = {
    // A user profile that tolerates errors would drop rows without a trace: never here.
    input_format_allow_errors_num: 0,
    input_format_allow_errors_ratio: 0,
    // One chunk must stay one block, or a failed insert could leave part of it behind.
    max_insert_block_size: 1_048_576,
    ...plan.settings,
  };
  if (route.format === 'csv') settings.format_csv_delimiter = route.delimiter ?? ',';
  if (capabilities.asyncInsertSetting) settings.async_insert = 0;
  if (capabilities.dedupToken) settings.insert_deduplicate = 1;
  if (capabilities.parallelParsing) {
    settings.min_chunk_bytes_for_parallel_parsing = Math.max(
      10 * 1024 * 1024,
      chunking.maxBytes + chunking.maxRecordBytes + 4096,
    );
  }
  return {
    base: { table, columns: plan.columns, format: plan.format },
    settings,
    token: capabilities.dedupToken
      ? (chunk, from, to) => `${tokenBase}:${chunk.index}:${from}-${to}`
      : () => undefined,
    insert: (insert) => warehouse.insertRaw(insert),
  };
}

/** Names one object version: the prefix of every deduplication token of its inserts. */
function versionToken(ref: ObjectRef, summary: FileSummary): string {
  const version = summary.versionId ?? summary.eTag ?? 'unversioned';
  return createHash('sha256').update(`${ref.bucket}\n${ref.key}\n${version}`).digest('hex').slice(0, 32);
}

async function* countBytes(body: Readable, summary: FileSummary): AsyncGenerator<Buffer> {
  for await (const piece of body) {
    const buffer = piece as Buffer;
    summary.bytes += buffer.length;
    yield buffer;
  }
}
