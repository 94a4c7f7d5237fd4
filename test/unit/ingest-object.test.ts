import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseConfig, parseRoute } from '../../functions/core/config/parse.ts';
import type { ChunkingConfig, Route } from '../../functions/core/config/schema.ts';
import {
  ChunkBufferStore,
  chunkBufferSize,
  mostChunkBuffers,
} from '../../functions/core/pipeline/buffer-pool.ts';
import { checkSameCut, cutSignature } from '../../functions/core/pipeline/cut-rules.ts';
import { type IngestDependencies, ingestObject } from '../../functions/core/pipeline/ingest-object.ts';
import { PARTIAL_COMMIT_CUT } from '../../functions/core/pipeline/streamed-insert.ts';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import type {
  CommittedChunk,
  Ledger,
  LedgerEntry,
  PriorAttempts,
  VersionKey,
} from '../../functions/core/ports/ledger.ts';
import type {
  ObjectRef,
  ObjectStore,
  OpenedObject,
  RejectedRow,
  RejectsStore,
  RejectsWriter,
} from '../../functions/core/ports/object-store.ts';
import {
  DataRejectedError,
  type Deduplication,
  type RawInsert,
  type ServerCapabilities,
  type TableColumn,
  type Warehouse,
} from '../../functions/core/ports/warehouse.ts';
import { MODERN_SERVER, OLD_SERVER } from '../fixtures/capabilities.ts';

const HEADER = 'id,name';

const COLUMNS: readonly TableColumn[] = [
  { name: 'id', type: 'UInt64', defaultKind: '' },
  { name: 'name', type: 'String', defaultKind: '' },
];

const ROUTE_INPUT = { prefix: 'in/', table: 'events', format: 'csv', delivery: 'at-least-once' } as const;
const ROUTE: Route = parseRoute(ROUTE_INPUT);

/** Chunking as the configuration would give it: the overrides plus every default. */
function chunking(overrides: Partial<ChunkingConfig> = {}): ChunkingConfig {
  return parseConfig({
    clickhouse: { url: 'http://127.0.0.1:8123' },
    routes: [ROUTE_INPUT],
    chunking: overrides,
  }).chunking;
}

/** One insert as the fake warehouse saw it, copied at once: chunk buffers are reused after they settle. */
interface InsertCall {
  readonly index: number;
  readonly format: RawInsert['format'];
  readonly rows: readonly string[];
  /** Bytes of the allocation behind the body: what the pipeline reserved for the chunk. */
  readonly allocation: number;
  readonly token: string | undefined;
}

interface PendingInsert {
  readonly call: InsertCall;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * An old ClickHouse whose table does not deduplicate. Manual inserts stay pending until the test settles them,
 * so the number of inserts the pipeline has in flight at once can be observed; automatic ones succeed at once.
 */
class FakeWarehouse implements Warehouse {
  readonly calls: InsertCall[] = [];
  readonly pending: PendingInsert[] = [];
  /** Rows of the inserts that succeeded, in the order they committed. */
  readonly committed: string[] = [];
  maxPending = 0;

  constructor(readonly mode: 'manual' | 'automatic') {}

  /** A server without deduplication tokens: delivery is at-least-once whatever the table, as the route allows. */
  async capabilities(): Promise<ServerCapabilities> {
    return OLD_SERVER;
  }

  async describeTable(): Promise<readonly TableColumn[]> {
    return COLUMNS;
  }

  async deduplication(): Promise<Deduplication> {
    return { window: 0, engine: 'MergeTree' };
  }

  /** Tables whose cache a failed file dropped. */
  readonly forgotten: string[] = [];
  forget(table: { database: string; table: string }): void {
    this.forgotten.push(`${table.database}.${table.table}`);
  }

  async insertRaw(insert: RawInsert): Promise<void> {
    // A streamed body is read as ClickHouse would: to its end, before the insert is answered.
    const body: Buffer[] = [];
    for await (const piece of insert.body) body.push(piece);
    const call: InsertCall = {
      index: this.calls.length,
      format: insert.format,
      rows: linesOf(Buffer.concat(body).toString('utf8')),
      allocation: Math.max(...body.map((piece) => piece.buffer.byteLength)),
      token: insert.settings.insert_deduplication_token?.toString(),
    };
    this.calls.push(call);
    if (this.mode === 'automatic') {
      this.committed.push(...call.rows);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        call,
        resolve: () => {
          this.committed.push(...call.rows);
          resolve();
        },
        reject,
      });
      this.maxPending = Math.max(this.maxPending, this.pending.length);
    });
  }
}

/** A current server whose table honours deduplication tokens: delivery is exactly-once. */
class DeduplicatingWarehouse extends FakeWarehouse {
  override async capabilities(): Promise<ServerCapabilities> {
    return MODERN_SERVER;
  }
  override async deduplication(): Promise<Deduplication> {
    return { window: 1000, engine: 'ReplicatedMergeTree' };
  }
}

class FakeLedger implements Ledger {
  readonly chunks: CommittedChunk[] = [];
  readonly entries: LedgerEntry[] = [];

  async prior(): Promise<PriorAttempts> {
    return { attempts: 0, loaded: false, committed: new Map() };
  }

  async recordChunk(_version: VersionKey, chunk: CommittedChunk): Promise<void> {
    this.chunks.push(chunk);
  }

  async record(entry: LedgerEntry): Promise<void> {
    this.entries.push(entry);
  }
}

class FakeRejects implements RejectsStore {
  readonly rows: RejectedRow[] = [];

  create(): RejectsWriter {
    return {
      write: async (row) => {
        this.rows.push(row);
      },
      close: async () => 'memory://rejects',
      abort: async () => {
        this.rows.length = 0;
      },
    };
  }
}

/** Serves one object, in pieces that do not line up with rows, the way S3 reads arrive. */
function objectStore(bytes: Buffer, piece = 700, announcedSize = bytes.length): ObjectStore {
  return {
    open: async (): Promise<OpenedObject> => {
      const pieces: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.subarray(at, at + piece));
      return { body: Readable.from(pieces), size: announcedSize, eTag: '"etag-1"', versionId: 'v1' };
    },
  };
}

interface Harness {
  readonly deps: IngestDependencies;
  readonly warehouse: FakeWarehouse;
  readonly ledger: FakeLedger;
  readonly ref: ObjectRef;
}

function harness(
  key: string,
  bytes: Buffer,
  mode: 'manual' | 'automatic',
  overrides: Partial<ChunkingConfig> = {},
): Harness {
  const warehouse = new FakeWarehouse(mode);
  const ledger = new FakeLedger();
  return {
    deps: {
      objects: objectStore(bytes),
      warehouse,
      rejects: new FakeRejects(),
      ledger,
      defaultDatabase: 'default',
      chunking: chunking(overrides),
    },
    warehouse,
    ledger,
    ref: { bucket: 'landing', key, versionId: 'v1', eTag: '"etag-1"', size: bytes.length },
  };
}

/** `rows` data rows of varied width, so that chunk boundaries fall anywhere in a read piece. */
function csvRows(rows: number): string[] {
  return Array.from({ length: rows }, (_, i) => `${i + 1},customer-${i + 1}-${'x'.repeat(i % 7)}`);
}

function csvFile(rows: readonly string[]): Buffer {
  return Buffer.from(`${HEADER}\n${rows.join('\n')}\n`);
}

function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/**
 * Lets the pipeline run until it can go no further without an insert settling. The fakes do no I/O: every
 * step the pipeline can take is a microtask or a next tick, all run before a macrotask turn ends; a few turns
 * leave a wide margin. This waits for the pipeline to fill its window; nothing asserts on time.
 */
async function quiescent(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Runs one ingestion against a manual warehouse: whenever the pipeline is blocked, the oldest pending insert
 * settles (with `failWith(call)`'s error, when it gives one). Oldest first is how ClickHouse would usually
 * answer, and waiting for the block means every insert the pipeline is willing to start has started.
 */
async function drive(
  h: Harness,
  failWith: (call: InsertCall) => Error | undefined = () => undefined,
  route: Route = ROUTE,
): Promise<FileSummary> {
  let summary: FileSummary | undefined;
  let thrown: unknown;
  ingestObject(h.deps, route, h.ref).then(
    (result) => {
      summary = result;
    },
    (error: unknown) => {
      thrown = error;
    },
  );
  for (;;) {
    await quiescent();
    if (thrown !== undefined) throw thrown;
    if (summary !== undefined) return summary;
    const next = h.warehouse.pending.shift();
    if (next === undefined) throw new Error('the pipeline is blocked with no insert pending');
    const error = failWith(next.call);
    if (error === undefined) next.resolve();
    else next.reject(error);
  }
}

describe('ingestObject: inserts in flight', () => {
  it('keeps two inserts pending with insertsInFlight 2, loads every row, and records chunks in order', async () => {
    const rows = csvRows(300);
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight: 2 });

    const summary = await drive(h);

    expect(summary.status).toBe('loaded');
    expect(summary.chunks).toBeGreaterThanOrEqual(4);
    // The window is used (two at once) and never exceeded.
    expect(h.warehouse.maxPending).toBe(2);
    expect(h.warehouse.committed).toEqual(rows);
    expect(summary.rowsRead).toBe(rows.length);
    expect(summary.rowsInserted).toBe(summary.rowsRead);
    // Every chunk but the last, in file order; the last chunk's commit is the file's history row.
    const everyButLast = Array.from({ length: summary.chunks - 1 }, (_, i) => i);
    expect(h.ledger.chunks.map((c) => c.chunk)).toEqual(everyButLast);
    expect(h.ledger.chunks.map((c) => c.rowsInserted)).toEqual(
      h.warehouse.calls.slice(0, -1).map((call) => call.rows.length),
    );
    expect(h.ledger.entries).toHaveLength(1);
    expect(h.ledger.entries[0]).toMatchObject({ status: 'loaded', rowsInserted: rows.length });
  });

  it('never has more than one insert pending with insertsInFlight 1', async () => {
    const rows = csvRows(300);
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight: 1 });

    const summary = await drive(h);

    expect(summary.status).toBe('loaded');
    expect(summary.chunks).toBeGreaterThanOrEqual(4);
    expect(h.warehouse.maxPending).toBe(1);
    expect(h.warehouse.committed).toEqual(rows);
    expect(summary.rowsInserted).toBe(rows.length);
  });

  it('inserts one chunk at a time under badRows.policy fail, whatever insertsInFlight says', async () => {
    const rows = csvRows(300);
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight: 2 });
    const route = parseRoute({ ...ROUTE_INPUT, badRows: { policy: 'fail' } });

    const summary = await drive(h, () => undefined, route);

    expect(summary.status).toBe('loaded');
    expect(summary.chunks).toBeGreaterThanOrEqual(4);
    expect(h.warehouse.maxPending).toBe(1);
    expect(h.warehouse.committed).toEqual(rows);
  });

  it('counts and records the next chunk that commits after an earlier one fails, not the failed one', async () => {
    const rows = csvRows(300);
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight: 2 });
    // Chunk 1 fails as the system would (a dropped connection), not as bad data: no row isolation, no retry.
    let inFlightWhenFailed: number[] = [];
    const summary = await drive(h, (call) => {
      if (call.index !== 1) return undefined;
      inFlightWhenFailed = h.warehouse.pending.map((p) => p.call.index);
      return new Error('socket hang up');
    });

    // Each chunk was one insert, so insert i is chunk i; chunk 2 was in flight when chunk 1 failed.
    expect(inFlightWhenFailed).toEqual([2]);
    expect(summary.status).toBe('failed');
    expect(summary.errorCode).toBe('CLICKHOUSE_FAILED');
    expect(summary.reason).toContain('socket hang up');
    // Nothing new starts once the file has failed.
    expect(h.warehouse.calls).toHaveLength(3);
    const [first, failed, next] = h.warehouse.calls;
    const committedRows = (first?.rows.length ?? 0) + (next?.rows.length ?? 0);
    expect(failed?.rows.length).toBeGreaterThan(0);
    expect(summary.rowsInserted).toBe(committedRows);
    expect(summary.rowsInserted).toBe(h.warehouse.committed.length);
    // Chunk 2 committed, so the retry must skip it: its commit is recorded although chunk 1 failed before it.
    expect(h.ledger.chunks.map((c) => [c.chunk, c.rowsInserted])).toEqual([
      [0, first?.rows.length],
      [2, next?.rows.length],
    ]);
    expect(h.ledger.entries).toHaveLength(1);
    expect(h.ledger.entries[0]).toMatchObject({ status: 'failed', rowsInserted: committedRows });
  });
  it('writes the rejects of a chunk that committed after the file failed on its reject limit', async () => {
    // Two records too long to load (maxRecordBytes 64), in consecutive chunks; the limit allows none.
    const rows = csvRows(300).map((row, i) => (i === 100 || i === 150 ? `${i + 1},${'y'.repeat(80)}` : row));
    const h = harness('in/orders.csv', csvFile(rows), 'manual', {
      maxBytes: 1024,
      maxRecordBytes: 64,
      insertsInFlight: 2,
    });
    const route = parseRoute({ ...ROUTE_INPUT, badRows: { policy: 'reject', maxRejectedRows: 0 } });

    const summary = await drive(h, () => undefined, route);

    expect(summary.status).toBe('failed');
    expect(summary.errorCode).toBe('REJECT_LIMIT_EXCEEDED');
    // The next chunk was inserting when the first bad row broke the limit: it committed, so its bad row is
    // in the rejects too, and its commit is recorded with it.
    const rejects = (h.deps.rejects as FakeRejects).rows;
    expect(rejects.map((r) => r.line)).toEqual([102, 152]);
    expect(summary.rowsRejected).toBe(2);
    expect(summary.rowsInserted).toBe(h.warehouse.committed.length);
    const recorded = h.ledger.chunks.map((c) => [c.chunk, c.rejected.map((r) => r.line)]);
    const failing = recorded.findIndex(([, lines]) => (lines as number[]).includes(102));
    expect(recorded.slice(failing)).toEqual([
      [failing, [102]],
      [failing + 1, [152]],
    ]);
  });
});

describe('ingestObject: bad rows', () => {
  it('after ClickHouse refuses one chunk, screens the later ones before their first insert', async () => {
    // A non-numeric id in every 40th row: certain to fail in a UInt64 column, so the screen finds it.
    const rows = csvRows(300).map((row, i) => (i % 40 === 7 ? `n/a,${row}` : row));
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight: 1 });
    const refuses = (call: InsertCall) =>
      call.rows.some((row) => row.startsWith('n/a,'))
        ? new DataRejectedError('Cannot parse input (at row 1)', '27', undefined)
        : undefined;

    const summary = await drive(h, refuses);

    expect(summary.status).toBe('loaded');
    expect(summary.chunks).toBeGreaterThanOrEqual(4);
    // Only the first chunk with a bad row reached ClickHouse whole; every later one was screened first (the
    // one already cut when the refusal came, just before its insert).
    const refused = h.warehouse.calls.filter((call) => refuses(call) !== undefined);
    expect(refused).toHaveLength(1);
    expect(h.warehouse.committed).toEqual(rows.filter((row) => !row.startsWith('n/a,')));
    const rejects = (h.deps.rejects as FakeRejects).rows;
    expect(rejects.map((r) => r.line)).toEqual(
      rows.flatMap((row, i) => (row.startsWith('n/a,') ? [i + 2] : [])),
    );
    expect(summary.rowsRejected + summary.rowsInserted).toBe(rows.length);
  });
});

describe('ingestObject: bad rows under exactly-once', () => {
  /** A history whose earlier attempt committed (and recorded) the given chunks. */
  class ResumingLedger extends FakeLedger {
    constructor(readonly earlier: ReadonlyMap<number, CommittedChunk>) {
      super();
    }
    override async prior(): Promise<PriorAttempts> {
      return { attempts: 1, loaded: false, committed: this.earlier };
    }
  }
  const rows = csvRows(300).map((row, i) => (i % 40 === 7 ? `n/a,${row}` : row));
  const refuses = (call: InsertCall) =>
    call.rows.some((row) => row.startsWith('n/a,'))
      ? new DataRejectedError('Cannot parse input (at row 1)', '27', undefined)
      : undefined;
  /** The chunk an insert belongs to, read from its token (version:cut:chunk:range). */
  const chunkOf = (call: InsertCall) => Number(call.token?.split(':')[2]);

  async function attempt(ledger: FakeLedger, insertsInFlight = 1) {
    const h = harness('in/orders.csv', csvFile(rows), 'manual', { maxBytes: 1024, insertsInFlight });
    const warehouse = new DeduplicatingWarehouse('manual');
    let summary: FileSummary | undefined;
    ingestObject({ ...h.deps, warehouse, ledger }, ROUTE, h.ref).then((result) => {
      summary = result;
    });
    while (summary === undefined) {
      await quiescent();
      const next = warehouse.pending.shift();
      if (next === undefined) continue;
      const error = refuses(next.call);
      if (error === undefined) next.resolve();
      else next.reject(error);
    }
    return { summary, warehouse, ledger };
  }

  it('screens the chunks after a refused one before their insert, committing what an attempt that offers them whole commits', async () => {
    const first = await attempt(new FakeLedger());
    expect(first.summary).toMatchObject({ status: 'loaded', delivery: 'exactly-once' });
    expect(first.warehouse.committed).toEqual(rows.filter((row) => !row.startsWith('n/a,')));
    const refused = first.warehouse.calls.filter((call) => refuses(call) !== undefined);
    // Every chunk holds a bad row, but only the first went to ClickHouse whole: the rest were screened first.
    expect(new Set(first.warehouse.calls.map(chunkOf)).size).toBeGreaterThan(3);
    expect(refused.map(chunkOf)).toEqual([0]);

    // A retry (or a second delivery) that starts at chunk 3 has seen no refusal: it offers chunk 3 whole.
    const recorded = new Map(first.ledger.chunks.filter((c) => c.chunk < 3).map((c) => [c.chunk, c]));
    const retry = await attempt(new ResumingLedger(recorded));
    expect(retry.warehouse.calls.filter((call) => refuses(call) !== undefined).map(chunkOf)).toEqual([3]);
    // Yet from chunk 3 on it commits the same inserts, under the same tokens: ClickHouse would drop them all.
    const committedFrom3 = (calls: readonly InsertCall[]) =>
      calls
        .filter((call) => refuses(call) === undefined && chunkOf(call) >= 3)
        .map((call) => [call.token, call.rows]);
    expect(committedFrom3(retry.warehouse.calls)).toEqual(committedFrom3(first.warehouse.calls));
  });

  it('with two in flight, commits what one in flight commits, chunk for chunk, also on a retry from chunk 3', async () => {
    const one = await attempt(new FakeLedger(), 1);
    const two = await attempt(new FakeLedger(), 2);
    expect(two.summary).toMatchObject({ status: 'loaded', delivery: 'exactly-once' });
    // The chunk in flight when the first refusal came went whole too: at most the first two were refused.
    const refused = two.warehouse.calls.filter((call) => refuses(call) !== undefined).map(chunkOf);
    expect(refused[0]).toBe(0);
    expect(refused.length).toBeLessThanOrEqual(2);
    const committed = (calls: readonly InsertCall[], from = 0) =>
      calls
        .filter((call) => refuses(call) === undefined && chunkOf(call) >= from)
        .map((call) => [call.token, call.rows])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(committed(two.warehouse.calls)).toEqual(committed(one.warehouse.calls));

    const recorded = new Map(two.ledger.chunks.filter((c) => c.chunk < 3).map((c) => [c.chunk, c]));
    const retry = await attempt(new ResumingLedger(recorded), 2);
    expect(committed(retry.warehouse.calls, 3)).toEqual(committed(two.warehouse.calls, 3));
  });
});

describe('ingestObject: the object body opened early', () => {
  /** A store that counts opens and remembers each body it handed out. */
  function countingStore(bytes: Buffer) {
    const bodies: Readable[] = [];
    const store: ObjectStore = {
      open: async () => {
        const body = Readable.from([bytes]);
        bodies.push(body);
        return { body, size: bytes.length, eTag: '"etag-1"', versionId: 'v1' };
      },
    };
    return { store, bodies };
  }

  /** A history query that takes `ms` to answer, as a ClickHouse service waking up would. */
  class SlowLedger extends FakeLedger {
    constructor(readonly ms: number) {
      super();
    }
    override async prior(): Promise<PriorAttempts> {
      await new Promise((resolve) => setTimeout(resolve, this.ms));
      return super.prior();
    }
  }

  it('reads the body opened with the history query when the preflight is quick', async () => {
    const rows = csvRows(20);
    const h = harness('in/orders.csv', csvFile(rows), 'automatic');
    const { store, bodies } = countingStore(csvFile(rows));
    const summary = await ingestObject({ ...h.deps, objects: store }, ROUTE, h.ref);
    expect(summary.status).toBe('loaded');
    expect(bodies).toHaveLength(1);
    expect(h.warehouse.committed).toEqual(rows);
  });

  it('drops a body left unread longer than earlyBodyMaxWaitMs and opens the object again', async () => {
    const rows = csvRows(20);
    const h = harness('in/orders.csv', csvFile(rows), 'automatic');
    const { store, bodies } = countingStore(csvFile(rows));
    const deps = { ...h.deps, objects: store, ledger: new SlowLedger(40) };
    const summary = await ingestObject(deps, ROUTE, h.ref, { earlyBodyMaxWaitMs: 10 });
    expect(summary.status).toBe('loaded');
    expect(bodies).toHaveLength(2);
    expect(bodies[0]?.destroyed).toBe(true);
    expect(h.warehouse.committed).toEqual(rows);
    expect(summary.rowsInserted).toBe(rows.length);
  });
});

describe('ingestObject: the preflight alongside the history query', () => {
  /** A history query that answers only when the test says so, and says whether the version is loaded. */
  class HeldHistoryLedger extends FakeLedger {
    open: () => void = () => undefined;
    readonly #gate = new Promise<void>((resolve) => {
      this.open = resolve;
    });
    constructor(readonly loaded: boolean) {
      super();
    }
    override async prior(): Promise<PriorAttempts> {
      await this.#gate;
      return { attempts: this.loaded ? 1 : 0, loaded: this.loaded, committed: new Map() };
    }
  }

  it('describes the table while the history query is still out', async () => {
    const rows = csvRows(5);
    const h = harness('in/orders.csv', csvFile(rows), 'automatic');
    const ledger = new HeldHistoryLedger(false);
    let described = false;
    h.warehouse.describeTable = async () => {
      described = true;
      return COLUMNS;
    };
    const loading = ingestObject({ ...h.deps, ledger }, ROUTE, h.ref);
    await quiescent();
    expect(described).toBe(true);
    ledger.open();
    expect((await loading).status).toBe('loaded');
    expect(h.warehouse.committed).toEqual(rows);
  });

  it('skips a duplicate event even when the table can no longer be described', async () => {
    const h = harness('in/orders.csv', csvFile(csvRows(5)), 'automatic');
    const ledger = new HeldHistoryLedger(true);
    h.warehouse.describeTable = async () => {
      throw new Error("Code: 60, e.displayText() = DB::Exception: Table default.events doesn't exist.");
    };
    const loading = ingestObject({ ...h.deps, ledger }, ROUTE, h.ref);
    ledger.open();
    const summary = await loading;
    expect(summary.status).toBe('skipped');
    expect(summary.reason).toMatch(/already loaded/);
    expect(h.warehouse.calls).toHaveLength(0);
  });

  it('skips a duplicate event on a table that refuses exactly-once, without an error', async () => {
    const h = harness('in/orders.csv', csvFile(csvRows(5)), 'automatic');
    const ledger = new HeldHistoryLedger(true);
    h.warehouse.capabilities = async () => MODERN_SERVER;
    const route = parseRoute({ ...ROUTE_INPUT, delivery: 'exactly-once' });
    const loading = ingestObject({ ...h.deps, ledger }, route, h.ref);
    ledger.open();
    const summary = await loading;
    expect(summary.status).toBe('skipped');
    expect(summary.errorCode).toBeUndefined();
  });
});

describe('ingestObject: chunk records', () => {
  /** Chunk records stay pending until the test settles them; the file's history row is taken at once. */
  class GatedLedger extends FakeLedger {
    readonly gated: { chunk: number; resolve(): void; reject(error: unknown): void }[] = [];
    override recordChunk(_version: VersionKey, chunk: CommittedChunk): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        this.gated.push({
          chunk: chunk.chunk,
          resolve: () => {
            this.chunks.push(chunk);
            resolve();
          },
          reject,
        });
      });
    }
  }

  function setUp(warehouse: FakeWarehouse, insertsInFlight = 1) {
    const rows = csvRows(300);
    const h = harness('in/orders.csv', csvFile(rows), 'automatic', { maxBytes: 1024, insertsInFlight });
    const ledger = new GatedLedger();
    const deps = { ...h.deps, warehouse, ledger };
    let summary: FileSummary | undefined;
    const done = ingestObject(deps, ROUTE, h.ref).then((result) => {
      summary = result;
      return result;
    });
    return { rows, ledger, warehouse, done, summary: () => summary };
  }

  it('with deduplication tokens, inserts the next chunk while the last one’s record is written, never more', async () => {
    const run = setUp(new DeduplicatingWarehouse('automatic'));
    let released = 0;
    for (;;) {
      await quiescent();
      if (run.summary() !== undefined) break;
      // Record N is written while chunk N + 1 inserts; chunk N + 2 waits for it: one record outstanding.
      expect(run.ledger.gated.map((g) => g.chunk)).toEqual([released]);
      expect(run.warehouse.calls).toHaveLength(Math.min(released + 2, run.warehouse.calls.length));
      expect(run.warehouse.calls.length).toBeLessThanOrEqual(released + 2);
      expect(run.ledger.entries).toHaveLength(0);
      run.ledger.gated.shift()?.resolve();
      released++;
    }
    const summary = await run.done;
    const chunks = run.warehouse.calls.length;
    expect(chunks).toBeGreaterThanOrEqual(4);
    expect(released).toBe(chunks - 1);
    expect(summary.status).toBe('loaded');
    expect(summary.delivery).toBe('exactly-once');
    expect(run.warehouse.committed).toEqual(run.rows);
    expect(run.ledger.chunks.map((c) => c.chunk)).toEqual([...Array(chunks - 1).keys()]);
    expect(run.ledger.entries.map((e) => e.status)).toEqual(['loaded']);
  });

  it('with deduplication tokens and two in flight, writes a record while the next two chunks insert, never more', async () => {
    const run = setUp(new DeduplicatingWarehouse('automatic'), 2);
    let released = 0;
    let overlapped = 0;
    for (;;) {
      await quiescent();
      if (run.summary() !== undefined) break;
      // Record N is written while chunks N + 1 and N + 2 insert; chunk N + 3 waits for it.
      expect(run.ledger.gated.map((g) => g.chunk)).toEqual([released]);
      expect(run.warehouse.calls.length).toBeLessThanOrEqual(released + 3);
      if (run.warehouse.calls.length === released + 3) overlapped++;
      run.ledger.gated.shift()?.resolve();
      released++;
    }
    const summary = await run.done;
    expect(overlapped).toBeGreaterThanOrEqual(2);
    expect(summary.status).toBe('loaded');
    expect(summary.delivery).toBe('exactly-once');
    expect(run.warehouse.committed).toEqual(run.rows);
    expect(run.ledger.chunks.map((c) => c.chunk)).toEqual([...Array(run.warehouse.calls.length - 1).keys()]);
  });

  it('with deduplication tokens, fails the file when a chunk record cannot be written', async () => {
    const run = setUp(new DeduplicatingWarehouse('automatic'));
    await quiescent();
    expect(run.warehouse.calls).toHaveLength(2);
    run.ledger.gated.shift()?.reject(new Error('ledger insert refused'));
    const summary = await run.done;
    expect(summary.status).toBe('failed');
    expect(summary.reason).toContain('ledger insert refused');
    // Nothing past the chunk inserting when the record failed.
    expect(run.warehouse.calls).toHaveLength(2);
    expect(run.ledger.entries.map((e) => e.status)).toEqual(['failed']);
  });

  // One record pending at a time; the chunks in flight may insert meanwhile, the one after them may not.
  it.each([1, 2])(
    'without deduplication tokens, waits for a chunk’s record before the insert %i later',
    async (inFlight) => {
      const run = setUp(new FakeWarehouse('automatic'), inFlight);
      for (let chunk = 0; run.summary() === undefined; chunk++) {
        await quiescent();
        if (run.summary() !== undefined) break;
        expect(run.ledger.gated.map((g) => g.chunk)).toEqual([chunk]);
        expect(run.warehouse.calls).toHaveLength(chunk + inFlight);
        run.ledger.gated.shift()?.resolve();
      }
      expect(run.summary()?.status).toBe('loaded');
      expect(run.warehouse.committed).toEqual(run.rows);
    },
  );
});

describe("ingestObject: the file's history row", () => {
  /** A ledger whose history-row writes fail the first `failures` times. */
  class FlakyLedger extends FakeLedger {
    attempts = 0;
    constructor(readonly failures: number) {
      super();
    }
    override async record(entry: LedgerEntry): Promise<void> {
      this.attempts++;
      if (this.attempts <= this.failures) throw new Error('history insert refused');
      await super.record(entry);
    }
  }

  it('writes it again after a refusal, and the file is loaded', async () => {
    const h = harness('in/orders.csv', csvFile(csvRows(20)), 'automatic');
    const ledger = new FlakyLedger(2);
    const summary = await ingestObject({ ...h.deps, ledger }, ROUTE, h.ref);
    expect(summary.status).toBe('loaded');
    expect(ledger.attempts).toBe(3);
    expect(ledger.entries.map((e) => e.status)).toEqual(['loaded']);
  });

  it('fails a loaded file whose history row cannot be written, so that the event is retried', async () => {
    const h = harness('in/orders.csv', csvFile(csvRows(20)), 'automatic');
    const ledger = new FlakyLedger(3);
    const summary = await ingestObject({ ...h.deps, ledger }, ROUTE, h.ref);
    expect(summary).toMatchObject({ status: 'failed', errorCode: 'CLICKHOUSE_FAILED', rowsInserted: 20 });
    expect(summary.reason).toMatch(
      /^loaded, but the load history could not be written: .*history insert refused/,
    );
    expect(ledger.entries).toEqual([]);
  });
});

describe('ingestObject: an object S3 reads back with the version id "null"', () => {
  it('records it under its ETag, so that the next overwrite of the key is a version of its own', async () => {
    const bytes = csvFile(csvRows(5));
    const h = harness('in/orders.csv', bytes, 'automatic');
    const objects: ObjectStore = {
      open: async () => ({
        body: Readable.from([bytes]),
        size: bytes.length,
        eTag: '"etag-7"',
        versionId: 'null',
      }),
    };
    const summary = await ingestObject({ ...h.deps, objects }, ROUTE, {
      bucket: 'landing',
      key: 'in/orders.csv',
      eTag: '"etag-7"',
    });
    expect(summary.status).toBe('loaded');
    expect(h.ledger.entries.map((e) => e.version)).toEqual(['etag-7']);
  });
});

describe('ingestObject: what is cached of the table', () => {
  it('is dropped when a file fails (the table may have changed), and kept when it loads', async () => {
    const loaded = harness('in/orders.csv', csvFile(csvRows(5)), 'automatic');
    await ingestObject(loaded.deps, ROUTE, loaded.ref);
    expect(loaded.warehouse.forgotten).toEqual([]);
    const failed = harness('in/orders.csv', Buffer.from('id,colour\n1,red\n'), 'automatic');
    const summary = await ingestObject(failed.deps, ROUTE, failed.ref);
    expect(summary.errorCode).toBe('SCHEMA_MISMATCH');
    expect(failed.warehouse.forgotten).toEqual(['default.events']);
  });
});

describe('ingestObject: the rejects of a failed file', () => {
  /** Rejects that say whether they were completed or dropped. */
  class WatchedRejects implements RejectsStore {
    readonly outcomes: string[] = [];
    create(): RejectsWriter {
      return {
        write: async () => undefined,
        close: async () => {
          this.outcomes.push('closed');
          return 'memory://rejects';
        },
        abort: async () => {
          this.outcomes.push('aborted');
        },
      };
    }
  }

  it('fails the file as a rejects failure, not a ClickHouse one, when they cannot be written', async () => {
    const rows = csvRows(50).map((row, i) => (i === 3 ? `${i + 1},${'y'.repeat(100)}` : row));
    const h = harness('in/orders.csv', csvFile(rows), 'automatic', { maxRecordBytes: 64 });
    const refusing: RejectsStore = {
      create: () => ({
        write: async () => {
          throw new Error('AccessDenied');
        },
        close: async () => 'never',
        abort: async () => undefined,
      }),
    };
    const summary = await ingestObject({ ...h.deps, rejects: refusing }, ROUTE, h.ref);
    expect(summary).toMatchObject({ status: 'failed', errorCode: 'REJECTS_WRITE_FAILED' });
    expect(summary.reason).toMatch(
      /rejected rows could not be written \(AccessDenied\); check .*s3:PutObject/,
    );
  });

  it('keeps them when the file failed for its rows, and drops them on any other failure', async () => {
    // Records over maxRecordBytes: rejected before any insert.
    const rows = csvRows(200).map((row, i) => (i % 10 === 3 ? `${i + 1},${'y'.repeat(100)}` : row));
    const overLimit = harness('in/orders.csv', csvFile(rows), 'automatic', {
      maxBytes: 1024,
      maxRecordBytes: 64,
    });
    const kept = new WatchedRejects();
    const rejected = await ingestObject(
      { ...overLimit.deps, rejects: kept },
      parseRoute({ ...ROUTE_INPUT, badRows: { policy: 'reject', maxRejectedRows: 1 } }),
      overLimit.ref,
    );
    expect(rejected.errorCode).toBe('REJECT_LIMIT_EXCEEDED');
    expect(kept.outcomes).toEqual(['closed']);

    // The same rejects, then the object stops arriving: a delivery of the same version that succeeded meanwhile
    // has written them whole, at the same key.
    const cut = harness('in/orders.csv', csvFile(rows), 'automatic', { maxBytes: 1024, maxRecordBytes: 64 });
    const dropped = new WatchedRejects();
    const source = csvFile(rows);
    const failingStore: ObjectStore = {
      open: async () => ({
        body: Readable.from(
          (async function* () {
            yield source.subarray(0, 3000);
            // Long enough for the first chunk to commit and its rejects to be written.
            await new Promise((resolve) => setTimeout(resolve, 50));
            throw new Error('connection reset');
          })(),
        ),
        size: source.length,
        eTag: '"etag-1"',
        versionId: 'v1',
      }),
    };
    const failed = await ingestObject(
      { ...cut.deps, objects: failingStore, rejects: dropped },
      ROUTE,
      cut.ref,
    );
    expect(failed.status).toBe('failed');
    expect(failed.errorCode).not.toBe('REJECT_LIMIT_EXCEEDED');
    expect(failed.rejectsLocation).toBeUndefined();
    expect(dropped.outcomes).toEqual(['aborted']);
  });
});

describe('ingestObject: chunk buffers of small objects', () => {
  /** About 200 bytes: a header and a dozen rows. */
  const rows = csvRows(12);
  const content = csvFile(rows);

  it('sizes the buffer of a small plain object to the object, not to a full chunk', async () => {
    expect(content.length).toBeGreaterThan(150);
    expect(content.length).toBeLessThan(250);
    const h = harness('in/small.csv', content, 'automatic');

    const summary = await ingestObject(h.deps, ROUTE, h.ref);

    expect(summary.status).toBe('loaded');
    expect(summary.rowsInserted).toBe(rows.length);
    expect(h.warehouse.calls).toHaveLength(1);
    // The default chunk buffer is over 10 MiB; a 200-byte object needs at most twice itself plus two.
    expect(h.warehouse.calls[0]?.allocation).toBeLessThanOrEqual(2 * content.length + 2);
    expect(h.warehouse.committed).toEqual(rows);
  });

  it('fails an object that turns out longer than its announced size instead of cutting rows off', async () => {
    // A local file still being written: stat() said 20 bytes, the read gives the whole file.
    const h = harness('in/growing.csv', content, 'automatic');
    const deps = { ...h.deps, objects: objectStore(content, 700, 20) };

    const summary = await ingestObject(deps, ROUTE, h.ref);

    expect(summary.status).toBe('failed');
    expect(summary.errorCode).toBe('OBJECT_READ_FAILED');
    expect(summary.reason).toMatch(/longer than the 20 bytes announced/);
    expect(h.warehouse.calls).toHaveLength(0);
  });

  it('loads a gzip object of the same content', async () => {
    const h = harness('in/small.csv.gz', gzipSync(content), 'automatic');

    const summary = await ingestObject(h.deps, ROUTE, h.ref);

    expect(summary.status).toBe('loaded');
    expect(summary.bytesDecompressed).toBe(content.length);
    expect(summary.rowsRead).toBe(rows.length);
    expect(summary.rowsInserted).toBe(rows.length);
    expect(h.warehouse.committed).toEqual(rows);
  });

  it('loads a gzip object that decompresses to far more than twice its stored size', async () => {
    // The stored size bounds nothing once decompressed: a buffer fitted to it would cut rows off.
    const many = Array.from({ length: 5000 }, () => '7,same-customer-name');
    const compressed = gzipSync(csvFile(many));
    expect(csvFile(many).length).toBeGreaterThan(10 * (2 * compressed.length + 2));
    const h = harness('in/repetitive.csv.gz', compressed, 'automatic');

    const summary = await ingestObject(h.deps, ROUTE, h.ref);

    expect(summary.status).toBe('loaded');
    expect(summary.rowsInserted).toBe(many.length);
    expect(h.warehouse.committed).toEqual(many);
  });
});

describe('ingestObject, chunk buffers shared by the files of one process', () => {
  /** A store that notes the memory behind every buffer it hands out. */
  class WatchedStore extends ChunkBufferStore {
    readonly handedOut: ArrayBufferLike[] = [];
    override take(): Buffer {
      const buffer = super.take();
      this.handedOut.push(buffer.buffer);
      return buffer;
    }
  }
  const limits = chunking();
  const content = csvFile(csvRows(300));

  it('gives a full-size buffer back to the store after a file, and the next file takes the same memory', async () => {
    const store = new WatchedStore(chunkBufferSize(limits), mostChunkBuffers(limits));
    for (const key of ['in/first.csv.gz', 'in/second.csv.gz']) {
      const h = harness(key, gzipSync(content), 'automatic');
      const summary = await ingestObject({ ...h.deps, chunkBuffers: store }, ROUTE, h.ref);
      expect(summary.status).toBe('loaded');
      expect(h.warehouse.committed).toEqual(csvRows(300));
      expect(store.held).toBe(store.keep);
    }
    expect(store.handedOut).toHaveLength(2);
    expect(store.handedOut[1]).toBe(store.handedOut[0]);
  });

  it('holds two buffers at most with two inserts in flight, also while bad rows are screened', async () => {
    const small = chunking({ maxBytes: 1024, maxRecordBytes: 64, insertsInFlight: 2 });
    expect(mostChunkBuffers(small)).toBe(2);
    const store = new WatchedStore(chunkBufferSize(small), mostChunkBuffers(small));
    // A non-numeric id in every 40th row: refused once, then every later chunk is screened before its insert.
    const rows = csvRows(300).map((row, i) => (i % 40 === 7 ? `n/a,${row}` : row));
    const h = harness('in/orders.csv', csvFile(rows), 'manual', small);
    const refuses = (call: InsertCall) =>
      call.rows.some((row) => row.startsWith('n/a,'))
        ? new DataRejectedError('Cannot parse input (at row 1)', '27', undefined)
        : undefined;

    const summary = await drive({ ...h, deps: { ...h.deps, chunkBuffers: store } }, refuses);

    expect(summary.status).toBe('loaded');
    expect(summary.chunks).toBeGreaterThanOrEqual(6);
    // Every good row once, every bad one in rejects: a buffer reused too early would show here.
    expect(h.warehouse.committed).toEqual(rows.filter((row) => !row.startsWith('n/a,')));
    expect((h.deps.rejects as FakeRejects).rows.map((r) => r.line)).toEqual(
      rows.flatMap((row, i) => (row.startsWith('n/a,') ? [i + 2] : [])),
    );
    // Screened after the first refusal: at most the chunks in flight then went whole and were refused.
    expect(h.warehouse.calls.filter((call) => refuses(call) !== undefined).length).toBeLessThanOrEqual(2);
    expect(h.warehouse.maxPending).toBe(2);
    expect(new Set(store.handedOut).size).toBe(2);
  });

  it('gives the next file sound buffers after a file that failed with an insert pending', async () => {
    const small = chunking({ maxBytes: 1024, maxRecordBytes: 64, insertsInFlight: 2 });
    const store = new WatchedStore(chunkBufferSize(small), mostChunkBuffers(small));
    const rows = csvRows(300);
    const failing = harness('in/first.csv', csvFile(rows), 'manual', small);
    const failed = await drive({ ...failing, deps: { ...failing.deps, chunkBuffers: store } }, (call) =>
      call.index === 1 ? new Error('socket hang up') : undefined,
    );
    expect(failed.status).toBe('failed');

    const next = harness('in/second.csv', csvFile(rows), 'manual', small);
    const loaded = await drive({ ...next, deps: { ...next.deps, chunkBuffers: store } });

    expect(loaded.status).toBe('loaded');
    expect(next.warehouse.committed).toEqual(rows);
  });

  it('leaves the store alone for a small plain object, whose buffer is fitted to it', async () => {
    const store = new WatchedStore(chunkBufferSize(limits), mostChunkBuffers(limits));
    const h = harness('in/small.csv', content, 'automatic');

    const summary = await ingestObject({ ...h.deps, chunkBuffers: store }, ROUTE, h.ref);

    expect(summary.rowsInserted).toBe(300);
    expect(store.handedOut).toHaveLength(0);
    expect(store.held).toBe(0);
  });
});

describe('ingestObject, a streamed insert ClickHouse takes although it was ended early', () => {
  // With two in flight, the read failure is raised first and the cut-short insert is settled after it.
  it.each([1, 2])(
    'fails the file with INSERT_CUT_SHORT and marks the chunk so that no retry loads the file (%i in flight)',
    async (insertsInFlight) => {
      const bytes = csvFile(csvRows(2000));
      // The object breaks off inside its first chunk: the streamed body is ended with the poison, which this
      // fake ClickHouse commits anyway (as a server that took it, or whose connection broke, might).
      async function* breaking(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, 20_000);
        throw new Error('connection reset by peer');
      }
      const h = harness('in/cut.csv', bytes, 'automatic', { maxBytes: 64 * 1024, insertsInFlight });
      const deps: IngestDependencies = {
        ...h.deps,
        objects: {
          open: async () => ({
            body: Readable.from(breaking()),
            size: bytes.length,
            eTag: '"etag-1"',
            versionId: 'v1',
          }),
        },
      };
      const summary = await ingestObject(deps, ROUTE, h.ref);
      expect(summary).toMatchObject({ status: 'failed', errorCode: 'INSERT_CUT_SHORT' });
      expect(summary.reason).toMatch(/Rows of that chunk may be in the table/);
      expect(summary.reason).toMatch(
        /the load history marks chunk 0, so every retry fails \(CHUNKING_CHANGED\)/,
      );
      expect(h.ledger.chunks).toEqual([{ chunk: 0, rowsInserted: 0, rejected: [], cut: PARTIAL_COMMIT_CUT }]);
      // What a retry does with that record: refuse, whatever its own rules.
      const committed = new Map(h.ledger.chunks.map((chunk) => [chunk.chunk, chunk]));
      expect(() =>
        checkSameCut(committed, cutSignature(ROUTE, deps.chunking), 's3://landing/in/cut.csv'),
      ).toThrow(expect.objectContaining({ code: 'CHUNKING_CHANGED' }));
    },
  );
});

describe('ingestObject, the rejected-rows limit broken while the next chunk streams', () => {
  it('fails with INSERT_CUT_SHORT when that chunk commits cut short, and keeps the rejects that broke the limit', async () => {
    // Chunk 0 holds a record too long to load (maxRecordBytes 64) and the limit allows none; chunk 1 is
    // streaming when chunk 0 settles, and the object stops arriving inside it. Ending the file poisons chunk
    // 1's body, which this fake ClickHouse commits anyway.
    const rows = csvRows(300).map((row, i) => (i === 3 ? `${i + 1},${'y'.repeat(80)}` : row));
    const bytes = csvFile(rows);
    const h = harness('in/orders.csv', bytes, 'manual', {
      maxBytes: 1024,
      maxRecordBytes: 64,
      insertsInFlight: 2,
    });
    // Chunk 0 whole and the start of chunk 1, then nothing more: a socket that stalls, until the file ends it.
    const stalling = new PassThrough();
    stalling.write(bytes.subarray(0, 1500));
    const deps: IngestDependencies = {
      ...h.deps,
      objects: {
        open: async () => ({ body: stalling, size: bytes.length, eTag: '"etag-1"', versionId: 'v1' }),
      },
    };
    const route = parseRoute({ ...ROUTE_INPUT, badRows: { policy: 'reject', maxRejectedRows: 0 } });

    const summary = await drive({ ...h, deps }, () => undefined, route);

    expect(summary).toMatchObject({ status: 'failed', errorCode: 'INSERT_CUT_SHORT' });
    expect(summary.reason).toMatch(/more than 0 rows rejected/);
    expect(summary.reason).toMatch(/Rows of that chunk may be in the table/);
    expect((h.deps.rejects as FakeRejects).rows.map((r) => r.line)).toEqual([5]);
    expect(summary.rejectsLocation).toBe('memory://rejects');
  });
});

describe('ingestObject: a version gone before its event is handled', () => {
  it('is skipped as VERSION_GONE, and says what an earlier attempt of it committed', async () => {
    const h = harness('in/orders.csv', csvFile(csvRows(10)), 'automatic');
    const committed = (chunk: number, rowsInserted: number): CommittedChunk => ({
      chunk,
      rowsInserted,
      rejected: [],
      cut: 'earlier',
    });
    class PartlyLoaded extends FakeLedger {
      override async prior(): Promise<PriorAttempts> {
        return {
          attempts: 1,
          loaded: false,
          committed: new Map([
            [0, committed(0, 120)],
            [1, committed(1, 80)],
            [2, { ...committed(2, 0), cut: PARTIAL_COMMIT_CUT }],
          ]),
        };
      }
    }
    const gone: ObjectStore = { open: async () => undefined };
    const summary = await ingestObject(
      { ...h.deps, ledger: new PartlyLoaded(), objects: gone },
      ROUTE,
      h.ref,
    );
    expect(summary).toMatchObject({ status: 'skipped', skipCode: 'VERSION_GONE', rowsInserted: 0 });
    expect(summary.reason).toBe(
      "the object version no longer exists (deleted or overwritten before its event was handled); an earlier attempt committed 2 chunk(s) of it (200 rows), which stay in the table; 1 chunk(s) of it may be in the table in part (an insert ended early): check the table for this version's rows",
    );
    expect(h.warehouse.calls).toHaveLength(0);
  });
});
