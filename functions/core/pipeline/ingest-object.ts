import type { Readable } from 'node:stream';
import { isAuthenticationFailure } from '../clickhouse/error-code.ts';
import { parseTableName, tableLabel } from '../clickhouse/sql.ts';
import { fieldDelimiter, routeName } from '../config/routes.ts';
import { type ChunkingConfig, DEFAULT_REQUEST_TIMEOUT_MS, type Route } from '../config/schema.ts';
import { ChuteError, describeError } from '../errors.ts';
import type { Ledger, LedgerEntry, PriorAttempts, VersionKey } from '../ports/ledger.ts';
import {
  type ObjectRef,
  type ObjectStore,
  objectLabel,
  type RejectedRow,
  type RejectsStore,
  type RejectsWriter,
  realVersionId,
} from '../ports/object-store.ts';
import { DataRejectedError, type Warehouse } from '../ports/warehouse.ts';
import {
  BufferPool,
  type ChunkBufferStore,
  mostChunkBuffers,
  plainChunkBound,
  storeFor,
} from './buffer-pool.ts';
import type { Chunk } from './chunk.ts';
import { indexChunk } from './chunk-index.ts';
import { type ChunkInsertTarget, loadChunk, type ScreenedChunk } from './chunk-loader.ts';
import { type ColumnPlan, NDJSON_PLAN_ROWS, planColumns, planNdjson } from './column-plan.ts';
import { checkSameCut, cutSignature } from './cut-rules.ts';
import { decompress } from './decompress.ts';
import { type FillingChunk, sendAtLeast } from './filling-chunk.ts';
import { collectIfHeapGrew, scavengingEvery } from './garbage.ts';
import { insertTarget, nullTextFor } from './insert-target.ts';
import {
  checkHeadroom,
  DEFAULT_HEADROOM_MS,
  decideDelivery,
  describe,
  minimumDedupWindow,
} from './preflight.ts';
import { ChunkReader } from './read-chunks.ts';
import {
  AbandonedInsertError,
  abandonedFailure,
  closedOrFailed,
  PARTIAL_COMMIT_CUT,
  PartialCommitError,
  streamWholeChunk,
} from './streamed-insert.ts';
import { emptySummary, type FileSummary, type Progress } from './summary.ts';

export interface IngestDependencies {
  readonly objects: ObjectStore;
  readonly warehouse: Warehouse;
  readonly rejects: RejectsStore;
  /** The load history; without one, duplicate events are caught by deduplication tokens alone. */
  readonly ledger?: Ledger | undefined;
  /** Database for route tables given without one. */
  readonly defaultDatabase: string;
  readonly chunking: ChunkingConfig;
  /**
   * The ClickHouse client's socket idle timeout (`clickhouse.requestTimeoutMs`). A streamed insert whose chunk
   * stops growing for half of it is ended with the poison, before the client would cut its body off (which
   * 18.16 commits). Default 300000.
   */
  readonly requestTimeoutMs?: number | undefined;
  /**
   * Chunk buffers shared by every file this process loads (see ChunkBufferStore), sized by `chunking`. Default:
   * a store for each file, which suits a process that loads one file (the CLI).
   */
  readonly chunkBuffers?: ChunkBufferStore | undefined;
}

export interface IngestOptions {
  /** Called after every chunk, for progress lines on long files. */
  readonly onProgress?: ((progress: Progress) => void) | undefined;
  /** Milliseconds left before the caller must stop (Lambda's remaining time). */
  readonly remainingTimeMs?: (() => number) | undefined;
  /** Stop starting chunks when less than this is left. Default 30000. */
  readonly headroomMs?: number | undefined;
  /**
   * An object body opened early (with the history query) but left unread longer than this is dropped and the
   * object opened again: S3 may close a response that nobody reads. Default 5000.
   */
  readonly earlyBodyMaxWaitMs?: number | undefined;
}

/**
 * Dead read buffers (S3 socket reads, gunzip output) allowed to pile up before a scavenge frees them. Per
 * chunk (8 MiB) was measured to leave about two chunks' worth at the peak: 1 GB peaked at 109-111 MiB against
 * 97 for 10 MB; every 2 MiB, 100-101 against 86-87, at no CPU cost the clean-CSV runs could tell apart.
 */
const SCAVENGE_EVERY_BYTES = 2 * 1024 * 1024;

interface LoadedChunk {
  readonly chunk: Chunk;
  readonly inserted: number;
  readonly rejected: readonly RejectedRow[];
  readonly inserts: number;
  /** Committed by an earlier attempt, not inserted now. */
  readonly resumed: boolean;
}

/** Failures that are the file's content, not the system's: recorded as rejected-file. */
const FILE_REJECTIONS = new Set(['REJECT_LIMIT_EXCEEDED']);

/**
 * The pipeline shared by the Lambda, the CLI and the local runner: one object version in, rows in ClickHouse
 * and rejects out, one summary and one load-history row. It never throws for a file's own failure: the summary
 * says `failed` with the reason, and the caller decides (the Lambda fails the invocation so that AWS retries).
 */
export async function ingestObject(
  deps: IngestDependencies,
  route: Route,
  ref: ObjectRef,
  options: IngestOptions = {},
): Promise<FileSummary> {
  const started = new Date();
  const where = objectLabel(ref.bucket, ref.key);
  const table = parseTableName(route.table, deps.defaultDatabase);
  const summary = emptySummary(ref, routeName(route), tableLabel(table));
  let body: Readable | undefined;
  let rejectsWriter: RejectsWriter | undefined;
  let version: VersionKey | undefined = versionOf(ref.bucket, ref.key, ref.versionId, ref.eTag);
  let prior: PriorAttempts = { attempts: 0, loaded: false, committed: new Map() };
  /** Inserts still in flight when the file failed that may have committed in part: kept in the reason. */
  const cutShort: PartialCommitError[] = [];

  const finish = async (error?: unknown): Promise<FileSummary> => {
    if (error !== undefined) {
      deps.warehouse.forget(table);
      summary.status = 'failed';
      summary.reason = [describeError(error), ...cutShort.map((e) => e.message)].join('; ');
      if (error instanceof PartialCommitError) cutShort.push(error);
      await markCutShort();
      const firstCode = isAuthenticationFailure(error)
        ? 'CLICKHOUSE_AUTH'
        : error instanceof ChuteError
          ? error.code
          : 'CLICKHOUSE_FAILED';
      // A chunk that may be in the table in part needs a person, whatever failed first (with two inserts in
      // flight, a read failure or the rejected-rows limit reaches here before the cut-short insert it caused).
      summary.errorCode =
        firstCode !== 'CLICKHOUSE_AUTH' && cutShort.length > 0 ? 'INSERT_CUT_SHORT' : firstCode;
      if (rejectsWriter !== undefined) {
        // A file failed for its rows keeps what was rejected so far: that explains the failure, and every attempt
        // rejects the same rows. Any other failure drops its part: the retry writes the rejects whole, and a
        // delivery of the same version that succeeded meanwhile may have written them already, at the same key.
        const writer = rejectsWriter;
        if (FILE_REJECTIONS.has(firstCode))
          summary.rejectsLocation = await writer.close().catch(async () => {
            await writer.abort().catch(() => undefined); // no half-written upload left behind
            return undefined;
          });
        else await writer.abort().catch(() => undefined);
      }
    }
    summary.attempt = prior.attempts + 1;
    summary.durationMs = Date.now() - started.getTime();
    if (deps.ledger !== undefined && version !== undefined) {
      const entry = ledgerEntry(summary, version, started);
      const ledger = deps.ledger;
      await withRetries(() => ledger.record(entry)).catch((ledgerError: unknown) => {
        const why = `the load history could not be written: ${describeError(ledgerError)}`;
        if (summary.status !== 'loaded') {
          summary.reason = `${summary.reason ?? ''}${summary.reason ? '; ' : ''}${why}`;
          return;
        }
        // Unrecorded, a loaded file would be loaded again by the next delivery of its event, whole. Failed, it
        // is retried now: the retry finds its chunks recorded and sends only the last one again (dropped by its
        // token under exactly-once; loaded twice under at-least-once, as any chunk committed before a crash).
        summary.status = 'failed';
        summary.errorCode = isAuthenticationFailure(ledgerError) ? 'CLICKHOUSE_AUTH' : 'CLICKHOUSE_FAILED';
        summary.reason = `loaded, but ${why}; the retry records it (README, "Guarantees")`;
      });
    }
    return summary;
  };
  /**
   * A chunk whose insert may have committed in part gets a load-history record that no retry's cut rules
   * match: Lambda's own retries then fail (CHUNKING_CHANGED) instead of deduplicating the rest of that chunk
   * away, until someone has checked the table and deleted the record.
   */
  const markCutShort = async (): Promise<void> => {
    if (deps.ledger === undefined || version === undefined) return;
    for (const error of cutShort) {
      const marked = await deps.ledger
        .recordChunk(version, { chunk: error.chunk, rowsInserted: 0, rejected: [], cut: PARTIAL_COMMIT_CUT })
        .then(
          () =>
            `the load history marks chunk ${error.chunk}, so every retry fails (CHUNKING_CHANGED) until that record is deleted`,
          (ledgerError: unknown) =>
            `marking chunk ${error.chunk} in the load history failed too (${describeError(ledgerError)}): a retry would not stop`,
        );
      summary.reason = `${summary.reason ?? ''}; ${marked}`;
    }
  };
  const alreadyLoaded = async (): Promise<boolean> => {
    if (deps.ledger === undefined || version === undefined) return false;
    prior = await deps.ledger.prior(version);
    if (!prior.loaded) return false;
    summary.status = 'skipped';
    summary.skipCode = 'ALREADY_LOADED';
    summary.reason = 'this object version is already loaded (a duplicate event)';
    return true;
  };

  // The GET goes out together with the history query: a small file waits for the slower of the two round
  // trips, not for both. A duplicate event then costs a GET too, closed unread.
  let opening = version === undefined ? undefined : deps.objects.open(ref);
  opening?.catch(() => undefined); // surfaced when awaited below
  const openedEarlyAt = Date.now();
  // The table's shape and what the server can promise matter only once the version is known to be new, but
  // they are asked for alongside the history query: on a cold container each is a round trip of its own.
  const preflight = (async () => {
    const [capabilities, columns] = await Promise.all([
      deps.warehouse.capabilities(),
      describe(deps.warehouse, table, where),
    ]);
    return {
      capabilities,
      columns,
      decision: await decideDelivery(
        deps.warehouse,
        table,
        route,
        capabilities,
        where,
        minimumDedupWindow(deps.chunking),
      ),
    };
  })();
  preflight.catch(() => undefined); // a skipped duplicate only waits for it to settle (finally, below)
  try {
    if (await alreadyLoaded()) return await finish();
    const { capabilities, columns, decision } = await preflight;
    summary.delivery = decision.delivery;
    if (decision.note !== undefined) summary.deliveryNote = decision.note;

    // A slow preflight (a ClickHouse service waking up) left the early body unread too long to trust it.
    if (opening !== undefined && Date.now() - openedEarlyAt > (options.earlyBodyMaxWaitMs ?? 5000)) {
      const stale = opening;
      opening = undefined;
      stale.then((unread) => unread?.body.destroy()).catch(() => undefined);
    }
    const opened = await (opening ?? deps.objects.open(ref));
    if (opened === undefined) {
      summary.status = 'skipped';
      summary.skipCode = 'VERSION_GONE';
      summary.reason = `the object version no longer exists (deleted or overwritten before its event was handled)${whatEarlierAttemptsLeft(prior)}`;
      return await finish();
    }
    body = opened.body;
    summary.versionId ??= opened.versionId;
    summary.eTag ??= opened.eTag;
    if (version === undefined) {
      version = versionOf(ref.bucket, ref.key, summary.versionId, summary.eTag) ?? {
        bucket: ref.bucket,
        key: ref.key,
        version: 'unversioned',
      };
      if (await alreadyLoaded()) return await finish();
    }
    const loadedVersion = version;
    // Chunks an earlier attempt committed: skipped (a killed attempt leaves these and no history row), but
    // only if they were cut by the same rules as this attempt's; each record carries the rules.
    const committed = prior.committed;
    const cut = cutSignature(route, deps.chunking, nullTextFor(capabilities, route));
    checkSameCut(committed, cut, where);

    const counts = { rows: 0, blankLines: 0, bytes: 0 };
    // Inserts stream while their chunk fills unless bad rows are handled chunk by chunk (screened before the
    // insert, or failing the file at the first): then the next chunk is read while one inserts (a second buffer
    // with one insert in flight; with more, theirs).
    let screenAhead = false;
    let target: ChunkInsertTarget | undefined;
    // NDJSON has no screen: its chunks keep streaming after a refusal.
    const streaming = () =>
      route.badRows.policy === 'reject' && (!screenAhead || target?.screen === undefined);
    const buffersWanted = () =>
      streaming() ? deps.chunking.insertsInFlight : mostChunkBuffers(deps.chunking);
    const store = deps.chunkBuffers ?? storeFor(deps.chunking);
    const pool = new BufferPool(store.size, buffersWanted(), store);
    let plan: ColumnPlan | undefined =
      route.format !== 'ndjson' && !route.header && route.columns !== undefined
        ? planColumns(route, route.columns, columns, capabilities, where)
        : undefined;
    /** The insert target, once the plan is known (for NDJSON, from the first chunk). */
    const targetFor = (chunk: Chunk | undefined): ChunkInsertTarget | undefined => {
      if (target !== undefined) return target;
      if (plan === undefined && chunk !== undefined)
        plan = planNdjson(route, chunk, columns, capabilities, where);
      if (plan === undefined) return undefined;
      target = insertTarget(
        deps.warehouse,
        table,
        plan,
        route,
        capabilities,
        deps.chunking,
        loadedVersion,
        columns,
        cut,
      );
      return target;
    };
    const indexOf = (chunk: Chunk) => indexChunk(chunk, route.format, fieldDelimiter(route));
    // Once ClickHouse has refused rows of this file, more are likely: each later chunk is screened as soon as
    // it is cut (while the one before it inserts), so that its certain failures never reach ClickHouse.
    const screenedAhead = new Map<number, ScreenedChunk>();
    const screenIfDue = (chunk: Chunk): ScreenedChunk | undefined => {
      const screen = target?.screen;
      if (!screenAhead || screen === undefined || route.badRows.policy !== 'reject') return undefined;
      // Also under exactly-once: a chunk screened first sends, with the same token, the very insert that the
      // same chunk offered whole would send once refused (whole refused, screened, sent without the same rows),
      // because the screen only takes out rows no insert could load (row-screen.ts, and the integration test
      // that asks both engines). So what a retry, or a second delivery at the same time, commits does not
      // depend on which earlier chunks its attempt saw refused.
      if (chunk.rows === 0 || committed.has(chunk.index)) return undefined;
      const index = indexOf(chunk);
      return { index, certain: screen(chunk, index) };
    };
    const plainBytes = decompress(
      countBytes(opened.body, summary, where, opened.size),
      route.compression,
      ref.key,
      (gzip) => {
        if (!gzip && opened.size !== undefined) pool.fitTo(plainChunkBound(opened.size));
      },
    );
    const reader = new ChunkReader(
      scavengingEvery(plainBytes, SCAVENGE_EVERY_BYTES),
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
        onClosed: (chunk) => {
          const screened = screenIfDue(chunk);
          if (screened !== undefined) screenedAhead.set(chunk.index, screened);
        },
      },
    );

    const writeRejects = async (rows: readonly RejectedRow[]) => {
      if (rows.length === 0) return;
      rejectsWriter ??= deps.rejects.create({ ...ref, versionId: summary.versionId, eTag: summary.eTag });
      const writer = rejectsWriter;
      await rejectsFailure(async () => {
        for (const row of rows) await writer.write(row);
      }, where);
      summary.rowsRejected += rows.length;
    };
    const checkRejectLimit = (rows: readonly RejectedRow[]) => {
      const last = rows[rows.length - 1];
      if (last !== undefined && summary.rowsRejected > route.badRows.maxRejectedRows) {
        throw new ChuteError(
          'REJECT_LIMIT_EXCEEDED',
          `${where}: more than ${route.badRows.maxRejectedRows} rows rejected (last at line ${last.line}: ${last.reason}); the file is failed. Fix the file, or raise badRows.maxRejectedRows`,
        );
      }
    };

    /**
     * One chunk's insert (or its resumed commit), started as the chunk opens and settled later, in file order.
     * Undefined for a chunk that turned out to hold nothing (trailing blank lines).
     */
    const startLoad = async (filling: FillingChunk): Promise<LoadedChunk | undefined> => {
      const done = committed.get(filling.index);
      // Committed by an earlier attempt: its rows are in the table, its rejects in the ledger.
      if (done !== undefined) {
        const chunk = await filling.closed;
        if (chunk === undefined) return undefined;
        pool.release(chunk.body);
        return { chunk, inserted: done.rowsInserted, rejected: done.rejected, inserts: 0, resumed: true };
      }
      let streamTo = streaming() ? targetFor(undefined) : undefined;
      if (streaming() && streamTo === undefined) {
        // NDJSON's columns are planned from a chunk's first rows: they need not wait for the whole chunk.
        const first = await filling.firstRows(NDJSON_PLAN_ROWS);
        if (first !== undefined && first.rows > 0) streamTo = targetFor(first);
      }
      // The clock is read once per chunk: before one that streams (it inserts while it is read), after one
      // that does not. A streaming chunk's body is given up (refused, nothing committed) if reading it takes
      // two thirds of the headroom, so that the file still ends, and says why, in time.
      let sent: Promise<void> | undefined;
      if (streamTo !== undefined) {
        const remaining = checkHeadroom(options, where, filling.index);
        const abandonAt =
          remaining === undefined
            ? undefined
            : Date.now() + remaining - (options.headroomMs ?? DEFAULT_HEADROOM_MS) / 3;
        if (await filling.hasData) {
          sent = streamWholeChunk(filling, streamTo, {
            abandonAt,
            idleLimitMs: (deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) / 2,
            sendAtLeast: sendAtLeast(deps.chunking.maxBytes),
          });
        }
      }
      const chunk = await closedOrFailed(filling, sent, where);
      if (chunk === undefined) return undefined;
      // The buffer goes back as soon as ClickHouse has answered for the chunk: the next chunk is read while
      // this one's outcome is written down.
      try {
        return await loadClosed(chunk, sent, streamTo === undefined);
      } finally {
        await sent?.catch(() => undefined);
        pool.release(chunk.body);
      }
    };
    /** Inserts a closed chunk, or takes its streamed insert's answer, and isolates refused rows. */
    const loadClosed = async (
      chunk: Chunk,
      sent: Promise<void> | undefined,
      checkTime: boolean,
    ): Promise<LoadedChunk> => {
      // Rows ClickHouse refused are isolated with more inserts: not without time for them. (A streamed chunk's
      // clock was read before it; a refusal makes its load longer than the one insert that allowed for.)
      const refused =
        sent !== undefined &&
        (await sent.then(
          () => false,
          (error: unknown) => error instanceof DataRejectedError,
        ));
      if (checkTime || refused) checkHeadroom(options, where, chunk.index);
      if (route.badRows.policy === 'fail' && chunk.rejected[0] !== undefined) {
        const first = chunk.rejected[0];
        throw new ChuteError(
          'REJECT_LIMIT_EXCEEDED',
          `${where}, line ${first.line}: ${first.reason} (badRows.policy is "fail")`,
        );
      }
      if (chunk.rows === 0)
        return { chunk, inserted: 0, rejected: chunk.rejected, inserts: 0, resumed: false };
      const into = targetFor(chunk) as ChunkInsertTarget;
      // A chunk cut before the first refusal is screened now: still cheaper than a refused insert. One whose
      // insert was already streaming keeps what its close screened, for its first refusal.
      const screened =
        sent === undefined
          ? (screenedAhead.get(chunk.index) ?? screenIfDue(chunk))
          : screenedAhead.get(chunk.index);
      screenedAhead.delete(chunk.index);
      const outcome = await loadChunk(chunk, into, route.badRows.policy, where, indexOf, {
        screened,
        sentWhole: sent,
        onRefused: () => {
          screenAhead = true;
          pool.capacity = buffersWanted();
        },
        beforeIsolating: (rejectedSoFar) => {
          checkHeadroom(options, where, chunk.index);
          const rejectedInFile = summary.rowsRejected + chunk.rejected.length + rejectedSoFar;
          if (rejectedInFile > route.badRows.maxRejectedRows)
            throw new ChuteError(
              'REJECT_LIMIT_EXCEEDED',
              `${where}: more than ${route.badRows.maxRejectedRows} rows rejected (${rejectedInFile} by chunk ${chunk.index}, from line ${chunk.firstLine}, while its bad rows were isolated); the file is failed. Fix the file, or raise badRows.maxRejectedRows`,
            );
        },
      }).catch((error: unknown) => {
        // Given up for time just as the chunk closed: the chunk is whole, but its insert was ended early.
        throw error instanceof AbandonedInsertError ? abandonedFailure(error, where, chunk.index) : error;
      });
      return {
        chunk,
        inserted: outcome.inserted,
        rejected: mergeByRow(chunk.rejected, outcome.rejected),
        inserts: outcome.inserts,
        resumed: false,
      };
    };
    const recordCommit = (loaded: LoadedChunk) =>
      deps.ledger?.recordChunk(loadedVersion, {
        chunk: loaded.chunk.index,
        rowsInserted: loaded.inserted,
        rejected: loaded.rejected,
        cut,
      });
    // With deduplication tokens honoured, a chunk's record need not land before the next insert starts: should
    // the process die first, the retry sends that chunk again with the same token and ClickHouse drops it. So
    // the record's round trip overlaps the inserts of the next insertsInFlight chunks, and no more: a record
    // still outstanding is awaited before the next one goes out, so a retry re-sends at most one chunk more than
    // were in flight. Without tokens a chunk's record is awaited before the insert insertsInFlight chunks later
    // starts, so that a crash repeats no more than the chunks in flight.
    const overlapRecords = decision.delivery === 'exactly-once';
    const recording: Promise<void>[] = [];
    let recordFailure: { error: unknown } | undefined;
    const recordsWritten = async (): Promise<void> => {
      await Promise.all(recording.splice(0));
      if (recordFailure !== undefined) throw recordFailure.error;
    };
    /**
     * Counts a chunk's outcome, in file order: rejects are written in the order of the file. `draining`: the
     * file has already failed, and this chunk's insert was in flight; what it committed is still counted,
     * its rejects written and its commit recorded (the retry resumes after it), and no limit is enforced.
     */
    const settle = async (load: Promise<LoadedChunk | undefined>, draining = false): Promise<void> => {
      const loaded = await load;
      if (loaded === undefined) return;
      const { chunk } = loaded;
      summary.chunks++;
      if (loaded.resumed) summary.chunksResumed++;
      summary.inserts += loaded.inserts;
      summary.rowsInserted += loaded.inserted;
      await writeRejects(loaded.rejected);
      // Recorded before any limit is enforced: these rows are committed, and a retry must skip them. The
      // last chunk's commit is recorded by the file's own history row, one insert fewer for small files.
      // (Unless the file is about to fail on its rejects: then the retry needs this record.)
      // The record still outstanding lands before another goes out; one that failed fails the file here, not
      // after the rest of it (this chunk's resend on the retry is deduplicated).
      if (!draining) await recordsWritten();
      if (
        !loaded.resumed &&
        (draining || !chunk.final || summary.rowsRejected > route.badRows.maxRejectedRows)
      ) {
        const record = recordCommit(loaded);
        if (overlapRecords && !draining && record !== undefined) {
          recording.push(
            record.catch((error: unknown) => {
              recordFailure ??= { error };
            }),
          );
        } else await record;
      }
      if (draining) return;
      checkRejectLimit(loaded.rejected);
      options.onProgress?.({
        bytes: summary.bytes,
        bytesDecompressed: chunk.bytesThrough,
        rowsInserted: summary.rowsInserted,
        rowsRejected: summary.rowsRejected,
        chunks: summary.chunks,
        elapsedMs: Date.now() - started.getTime(),
      });
    };

    const inFlight: Promise<LoadedChunk | undefined>[] = [];
    // Under badRows.policy "fail" one at a time, so that what a failed file leaves in the table is the chunks
    // before its first bad row: a later chunk in flight could commit after the earlier one was refused.
    const insertsAtOnce = route.badRows.policy === 'fail' ? 1 : deps.chunking.insertsInFlight;
    let loadFailed = false;
    let onLoadFailed: () => void = () => undefined;
    const anyLoadFailed = new Promise<'failed'>((resolve) => {
      onLoadFailed = () => resolve('failed');
    });
    let readAll = false;
    try {
      for (;;) {
        // A chunk in flight that fails (given up for time, say) fails the file now, not once the next chunk
        // opens, which can take as long as reading the rest of the failed one.
        const opening = reader.next();
        opening.catch(() => undefined); // surfaced below, unless a load failed first
        const filling = await Promise.race([opening, anyLoadFailed]);
        if (filling === undefined) break;
        if (loadFailed || filling === 'failed') {
          for (let next = inFlight.shift(); next; next = inFlight.shift()) await settle(next);
          if (filling === 'failed') break; // not reached: settling the failed load threw
        }
        const load = startLoad(filling);
        load.catch(() => {
          loadFailed = true; // surfaced when settled
          onLoadFailed();
        });
        inFlight.push(load);
        if (inFlight.length >= insertsAtOnce) await settle(inFlight.shift() as Promise<LoadedChunk>);
      }
      readAll = true;
      for (let next = inFlight.shift(); next !== undefined; next = inFlight.shift()) await settle(next);
    } finally {
      // On a failure, reading stops first: a chunk whose insert is streaming ends it with bytes ClickHouse
      // refuses, so that nothing of it commits. Inserts still in flight then finish before their buffers go
      // away; what they committed is counted, its rejects written and its commit recorded, so that the retry
      // skips it.
      if (!readAll) opened.body.destroy();
      await reader.stop();
      for (const flight of inFlight.splice(0)) {
        await settle(flight, true).catch((error: unknown) => {
          // The file has failed already; but rows committed with no record of them must not go unsaid.
          if (error instanceof PartialCommitError) cutShort.push(error);
        });
      }
      // Whatever happened, no record is left being written once the file's own history row goes out.
      await Promise.all(recording);
    }
    await recordsWritten();
    summary.rowsRead = counts.rows;
    summary.blankLines = counts.blankLines;
    summary.bytesDecompressed = counts.bytes;
    if (summary.rowsRead !== summary.rowsInserted + summary.rowsRejected) {
      throw new ChuteError(
        'CLICKHOUSE_FAILED',
        `${where}: ${summary.rowsRead} rows read but ${summary.rowsInserted} inserted + ${summary.rowsRejected} rejected; this is a chute bug, please report it`,
      );
    }
    const writer = rejectsWriter;
    if (writer !== undefined) summary.rejectsLocation = await rejectsFailure(() => writer.close(), where);
    return await finish();
  } catch (error) {
    return await finish(error);
  } finally {
    body?.destroy();
    // Opened early but never read (a duplicate, or a failure before reading): free its socket.
    if (body === undefined) await opening?.then((unread) => unread?.body.destroy()).catch(() => undefined);
    // No query outlives the file: a frozen Lambda, a closing CLI client or chDB session would cut it off.
    await preflight.then(
      () => undefined,
      () => undefined,
    );
    collectIfHeapGrew();
  }
}

/** What earlier attempts of a version left in the table, for the reason of one skipped as gone ('' if nothing). */
function whatEarlierAttemptsLeft(prior: PriorAttempts): string {
  const earlier = [...prior.committed.values()];
  const committedWhole = earlier.filter((chunk) => chunk.cut !== PARTIAL_COMMIT_CUT);
  const cutShortChunks = earlier.length - committedWhole.length;
  let left = '';
  if (committedWhole.length > 0) {
    const rows = committedWhole.reduce((sum, chunk) => sum + chunk.rowsInserted, 0);
    left += `; an earlier attempt committed ${committedWhole.length} chunk(s) of it (${rows} rows), which stay in the table`;
  }
  if (cutShortChunks > 0)
    left += `; ${cutShortChunks} chunk(s) of it may be in the table in part (an insert ended early): check the table for this version's rows`;
  return left;
}

/** Writing the rejects failed: said as such, not as ClickHouse's failure; the retry writes them whole. */
async function rejectsFailure<T>(write: () => Promise<T>, where: string): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw new ChuteError(
      'REJECTS_WRITE_FAILED',
      `${where}: the rejected rows could not be written (${describeError(error)}); check the function's s3:PutObject permission on the rejects prefix. The retry resumes after the chunks recorded`,
      { cause: error },
    );
  }
}

/** A load-history write, tried three times (after 0.2 and 1 s) before its failure counts. */
async function withRetries(write: () => Promise<void>): Promise<void> {
  for (const pauseMs of [200, 1000]) {
    try {
      return await write();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  return write();
}

function versionOf(
  bucket: string,
  key: string,
  versionId: string | undefined,
  eTag: string | undefined,
): VersionKey | undefined {
  const version = realVersionId(versionId) ?? eTag?.replace(/"/g, '');
  return version === undefined || version === '' ? undefined : { bucket, key, version };
}

function ledgerEntry(summary: FileSummary, version: VersionKey, started: Date): LedgerEntry {
  const status =
    summary.status === 'failed' && FILE_REJECTIONS.has(summary.errorCode ?? '')
      ? 'rejected-file'
      : summary.status;
  return {
    ...version,
    size: summary.bytes,
    route: summary.route ?? '',
    table: summary.table ?? '',
    status,
    rowsInserted: summary.rowsInserted,
    rowsRejected: summary.rowsRejected,
    rejectsLocation: summary.rejectsLocation ?? '',
    attempt: summary.attempt,
    started,
    finished: new Date(),
    error: summary.status === 'loaded' ? '' : (summary.reason ?? ''),
    delivery: summary.delivery ?? 'exactly-once',
  };
}

/** Rows refused before ClickHouse and rows ClickHouse refused, in file order. */
function mergeByRow(a: readonly RejectedRow[], b: readonly RejectedRow[]): readonly RejectedRow[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return [...a, ...b].sort((x, y) => x.row - y.row);
}

/**
 * The object's bytes as read, counted. More bytes than the object's announced size mean it changed while it
 * was read (a local file still being written): the file fails rather than overrun buffers sized to it.
 */
async function* countBytes(
  body: Readable,
  summary: FileSummary,
  where: string,
  size: number | undefined,
): AsyncGenerator<Buffer> {
  try {
    for await (const piece of body) {
      const buffer = piece as Buffer;
      summary.bytes += buffer.length;
      if (size !== undefined && summary.bytes > size) {
        throw new ChuteError(
          'OBJECT_READ_FAILED',
          `${where}: the object is longer than the ${size} bytes announced when it was opened: it changed while it was read. Load it again once it is complete`,
        );
      }
      yield buffer;
    }
  } catch (error) {
    if (error instanceof ChuteError) throw error;
    throw new ChuteError(
      'OBJECT_READ_FAILED',
      `${where}: reading the object failed after ${summary.bytes} bytes (${describeError(error)}); the retry resumes after the committed chunks`,
      { cause: error },
    );
  }
}
