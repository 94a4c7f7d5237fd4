/**
 * Exactly-once when processes die or freeze: the function's process killed mid-file, ClickHouse stopped
 * mid-file, and a warm container frozen across the server's keep-alive timeout. These need a ClickHouse server
 * process (the Debian 18.16 one: no deduplication tokens, so what makes a retry exact here is the ledger's
 * chunk records alone). The in-process scenarios on both engines are in exactly-once.test.ts.
 *
 * Why no chDB here: the bundled handler reaches ClickHouse only through CLICKHOUSE_URL (HTTP); chDB is a
 * library inside one process, with no URL a child process could be given.
 */

import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import { processS3Event } from '../../functions/ingest/process-event.ts';
import { type RunningClickHouse, startClickHouseServer } from '../fixtures/clickhouse-server.ts';
import { FAULT_TABLE_COLUMNS, type FaultFile, faultFile } from '../fixtures/faults/data.ts';
import { type IdleReaperProxy, startIdleReaperProxy } from '../fixtures/faults/idle-reaper-proxy.ts';
import { chunksOf, exactly, historyOf, observedLedger, tableState } from '../fixtures/faults/ledger.ts';
import { rejectsAt } from '../fixtures/faults/rejects.ts';
import { socketStatesOf } from '../fixtures/faults/sockets.ts';
import {
  dependencies,
  type Engine,
  putObject,
  RecordingReporter,
  serverEngine,
  testConfig,
} from '../fixtures/loader.ts';
import { type HandlerRun, runHandlerProcess } from '../fixtures/run-handler.ts';
import { type RunningS3, startS3Server } from '../fixtures/s3.ts';
import { uniqueName } from '../fixtures/tables.ts';

const bucket = 'landing';
let s3: RunningS3;

/** The two ways a warm container spends the time between two invocations. */
const GAPS: [string, boolean][] = [
  ['frozen (SIGSTOP) between two invocations, as Lambda freezes an idle container,', true],
  ['idle (not frozen) between two invocations', false],
];

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(bucket);
});
afterAll(async () => {
  await s3?.stop();
});

async function createTable(engine: Engine): Promise<string> {
  const table = uniqueName('exactly_once');
  await engine.client.command({
    query: `CREATE TABLE ${table} (${FAULT_TABLE_COLUMNS}) ${engine.mergeTree('id')}`,
  });
  return table;
}

/** The handler's one summary line for a file (INFO lines go to stdout, WARN and ERROR lines to stderr). */
function fileLine(run: HandlerRun, key: string): FileSummary & { message: string } {
  const lines = [...run.logs, ...run.stderrLines.flatMap(parseJson)];
  const line = lines.find((l) => l.key === key && /^file (loaded|failed|skipped)$/.test(String(l.message)));
  if (line === undefined) throw new Error(`no file line for ${key}`);
  return line as unknown as FileSummary & { message: string };
}

function parseJson(line: string): Record<string, unknown>[] {
  try {
    return [JSON.parse(line) as Record<string, unknown>];
  } catch {
    return [];
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('the function process killed mid-file, then the event retried (bundled handler, 18.16)', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = serverEngine(inject('clickhouseUrl'));
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('resumes after the chunks the killed attempt recorded, repeating at most the chunks in flight at the kill', async () => {
    const table = await createTable(engine);
    // About 4 MB in 64 KiB chunks (some 60 chunks of about 930 rows): long enough to be killed in the middle.
    const rows = 60_000;
    const file = faultFile({ rows, extraField: [5], badAmount: [30_000, 59_999], padding: 40 });
    const key = `in/${uniqueName('killed')}.csv`;
    const event = await putObject(s3, bucket, key, file.body);
    const config = {
      routes: [{ prefix: 'in/', format: 'csv' as const, table }],
      chunking: { maxBytes: 65_536 },
    };
    const handler = { config, clickhouseUrl: inject('clickhouseUrl'), s3Endpoint: s3.endpoint };

    let child: ChildProcess | undefined;
    const killed = runHandlerProcess({
      ...handler,
      events: [event],
      onSpawn: (spawned) => {
        child = spawned;
      },
    });
    killed.catch(() => undefined);
    // SIGKILL, as Lambda ends a timed-out or out-of-memory function: no finally, no last ledger row.
    await until('two committed chunks', async () => {
      // The handler creates the ledger tables on first use: until then there is nothing to count.
      const chunks = await chunksOf(engine.client, bucket, key).catch(() => []);
      return chunks.length >= 2 ? true : undefined;
    });
    child?.kill('SIGKILL');
    await expect(killed).rejects.toThrow(/exited null/);

    // What the killed attempt left: the rows it committed and the chunk records it wrote. An insert whose body
    // reached the server before the kill still commits (so wait until the table stops changing), but it has no
    // record: on 18.16 (no deduplication tokens) the chunks in flight are what a retry may repeat, as the
    // README says. Measured here: the kill usually lands while inserts are in flight, so usually some are.
    const inFlight = parseConfig({ clickhouse: { url: handler.clickhouseUrl }, ...config }).chunking
      .insertsInFlight;
    expect(inFlight).toBe(2);
    const committedRows = await settledCount(engine, table);
    const recorded = await chunksOf(engine.client, bucket, key);
    const recordedRows = recorded.reduce((sum, r) => sum + r.rows_inserted, 0);
    const unrecordedRows = committedRows - recordedRows;
    console.log(
      `killed after ${recorded.length} recorded chunks (${recordedRows} rows); table held ${committedRows} rows`,
    );
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    // A chunk's record is written before the insert insertsInFlight chunks later starts: at most the chunks in
    // flight (under 1,000 rows each here) can be committed and not recorded.
    expect(unrecordedRows).toBeGreaterThanOrEqual(0);
    expect(unrecordedRows).toBeLessThan(inFlight * 1_000);
    // The killed attempt wrote no attempt row: it never reached its end.
    expect(await historyOf(engine.client, bucket, key)).toEqual([]);

    const retry = await runHandlerProcess({ ...handler, events: [event] });
    expect(retry.errors).toEqual([]);
    const summary = fileLine(retry, key);
    expect(summary).toMatchObject({
      message: 'file loaded',
      status: 'loaded',
      rowsRead: rows,
      rowsInserted: file.goodIds.length,
      rowsRejected: 3,
      delivery: 'at-least-once',
    });
    expect(recorded.length).toBeLessThan(summary.chunks); // killed mid-file, not after the last chunk
    // The retry must skip what the killed attempt recorded, whether or not that attempt left a history row.
    // Soft: whether the retry resumed and what the table holds are both reported when either is wrong.
    expect.soft(summary.chunksResumed).toBe(recorded.length);
    const state = await tableState(engine.client, table);
    expect(state.distinct).toBe(file.goodIds.length);
    expect(state.idSum).toBe(exactly(file.goodIds).idSum);
    expect.soft(state.count).toBe(file.goodIds.length + unrecordedRows);
    if (unrecordedRows === 0) expect(state).toEqual(exactly(file.goodIds));
    expect(await rejectsAt(s3.client, summary.rejectsLocation)).toEqual(file.rejects);
    const history = await historyOf(engine.client, bucket, key);
    expect(history).toMatchObject([
      { status: 'loaded', rows_inserted: file.goodIds.length, rows_rejected: 3, delivery: 'at-least-once' },
    ]);
    // Every chunk but the last has its record; the last one's commit is the history row above.
    const chunks = await chunksOf(engine.client, bucket, key);
    expect(chunks.map((c) => c.chunk)).toEqual(Array.from({ length: summary.chunks - 1 }, (_, i) => i));
  });
});

describe('on a private 18.16 server (keep-alive timeout 2 s)', () => {
  let server: RunningClickHouse;
  let engine: Engine;
  beforeAll(async () => {
    server = await startClickHouseServer({ keepAliveTimeoutSeconds: 2 });
    engine = serverEngine(server.url);
  });
  afterAll(async () => {
    await engine?.close();
    await server?.stop();
  });

  it('fails the file when ClickHouse stops mid-file, and the retry after the restart loads it exactly', async () => {
    const table = await createTable(engine);
    const file = faultFile({ rows: 2000, extraField: [10], badAmount: [1000, 1990] });
    const key = `in/${uniqueName('stopped')}.csv`;
    const event = await putObject(s3, bucket, key, file.body);
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }], {
      clickhouse: { url: server.url },
      // One insert at a time: without deduplication tokens (18.16), a chunk committed while the previous one's
      // record is written would be repeated by the retry; this test pins the one-chunk-at-a-time resume.
      chunking: { maxBytes: 2048, insertsInFlight: 1 },
    });
    const base = dependencies(engine, s3, config);
    if (base.ledger === undefined) throw new Error('dependencies() gave no ledger');
    // The server is stopped (SIGTERM, as a restart or an upgrade does) right after the second chunk is recorded.
    let stopped = false;
    const deps = {
      ...base,
      ledger: observedLedger(base.ledger, async (_chunk, recorded) => {
        if (recorded !== 2 || stopped) return;
        stopped = true;
        await stopServer(server);
      }),
    };

    const reporter = new RecordingReporter();
    const failed = await processS3Event(event, config, deps, reporter).catch((error: unknown) => error);
    expect(stopped).toBe(true);
    expect(String(failed)).toMatch(/1 of 1 file\(s\) failed, the event will be retried/);
    const [first] = reporter.files;
    expect(first?.status).toBe('failed');
    // The ledger is in the stopped server too: the failed attempt could not be recorded, and says so.
    expect(first?.reason).toMatch(/the load history could not be written/);

    await server.restart();
    const recorded = await chunksOf(engine.client, bucket, key);
    expect(recorded.map((r) => r.chunk)).toEqual([0, 1]);
    const recordedRows = recorded.reduce((sum, r) => sum + r.rows_inserted, 0);
    expect(first?.rowsInserted).toBe(recordedRows);
    expect((await tableState(engine.client, table)).count).toBe(recordedRows);
    expect(await historyOf(engine.client, bucket, key)).toEqual([]);

    // The retry, in the same warm container: its pooled sockets went to the server that was stopped.
    const retryReporter = new RecordingReporter();
    await processS3Event(event, config, deps, retryReporter);
    const [retry] = retryReporter.files;
    expect(retry).toMatchObject({
      status: 'loaded',
      rowsRead: 2000,
      rowsInserted: file.goodIds.length,
      rowsRejected: 3,
    });
    // Soft: whether the retry resumed and what the table holds are both reported when either is wrong.
    expect.soft(retry?.chunksResumed).toBe(2);
    expect.soft(await tableState(engine.client, table)).toEqual(exactly(file.goodIds));
    expect(await rejectsAt(s3.client, retry?.rejectsLocation)).toEqual(file.rejects);
    expect(await historyOf(engine.client, bucket, key)).toMatchObject([
      { status: 'loaded', rows_inserted: file.goodIds.length, rows_rejected: 3, error: '' },
    ]);
    const chunks = await chunksOf(engine.client, bucket, key);
    expect(chunks.map((c) => c.chunk)).toEqual(Array.from({ length: (retry?.chunks ?? 0) - 1 }, (_, i) => i));
  });

  describe.each(GAPS)(
    'a warm handler %s for longer than the server keep-alive timeout (2 s)',
    (_name, freeze) => {
      it('handles the second event without a single error', async () => {
        const port = Number(new URL(server.url).port);
        let statesInGap: string[] = [];
        const gap = await twoEventsAcrossAGap(engine, server.url, freeze, (child) => {
          statesInGap = socketStatesOf(child, port);
        });
        if (freeze) {
          // The server closed the pooled sockets while the process was frozen: on thaw they are stale.
          expect(statesInGap).toContain('CLOSE_WAIT');
        } else {
          // A running container drops idle sockets itself (idle_socket_ttl 2000 ms).
          expect(statesInGap).toEqual([]);
        }
        await expectBothLoadedCleanly(engine, gap);
      });
    },
  );
});

describe('through a middlebox that silently forgets connections idle for 3 s (a NAT gateway), shared 18.16', () => {
  let engine: Engine;
  let proxy: IdleReaperProxy;
  beforeAll(async () => {
    engine = serverEngine(inject('clickhouseUrl'));
    // The shared server keeps idle connections 10 s: only the middlebox drops them, and tells no one.
    proxy = await startIdleReaperProxy(inject('clickhouseUrl'), { idleMs: 3_000 });
  });
  afterAll(async () => {
    await proxy?.stop();
    await engine?.close();
  });

  describe.each(GAPS)('a warm handler %s for 5 s', (_name, freeze) => {
    it('handles the second event without a single error, never sending on a forgotten connection', async () => {
      let forgottenInGap = -1;
      const gap = await twoEventsAcrossAGap(engine, proxy.endpoint, freeze, () => {
        forgottenInGap = proxy.forgotten();
      });
      if (freeze) {
        // On thaw the frozen container still holds connections the middlebox has forgotten: reusing one
        // would get a reset. The client must check a socket's age before reuse (its timers ran late).
        expect(forgottenInGap).toBeGreaterThanOrEqual(1);
      } else {
        expect(forgottenInGap).toBe(0);
      }
      expect(proxy.resets()).toBe(0);
      await expectBothLoadedCleanly(engine, gap);
    });
  });
});

interface Gap {
  run: HandlerRun;
  table: string;
  files: FaultFile[];
  keys: string[];
}

/**
 * Two events through one warm bundled handler, with 5 s between them: frozen (SIGSTOP, as Lambda freezes a
 * container between invocations; the next invocation and SIGCONT then arrive together, so overdue timers have
 * not run when it starts) or just idle. `inGap` observes the gap's end, before the thaw.
 */
async function twoEventsAcrossAGap(
  engine: Engine,
  clickhouseUrl: string,
  freeze: boolean,
  inGap: (pid: number) => void,
): Promise<Gap> {
  const table = await createTable(engine);
  const files = [faultFile({ rows: 500, badAmount: [7] }), faultFile({ rows: 500, firstId: 501 })];
  const keys = [`in/${uniqueName('before_gap')}.csv`, `in/${uniqueName('after_gap')}.csv`];
  const events: S3Event[] = [];
  for (const [i, file] of files.entries()) events.push(await putObject(s3, bucket, keys[i] ?? '', file.body));
  const run = await runHandlerProcess({
    events,
    config: { routes: [{ prefix: 'in/', format: 'csv', table }] },
    clickhouseUrl,
    s3Endpoint: s3.endpoint,
    env: { CHUTE_SAMPLE_SOCKETS: '1' },
    betweenEvents: async (_handled, child) => {
      if (child.pid === undefined) throw new Error('the handler process has no pid');
      if (freeze) child.kill('SIGSTOP');
      await sleep(5_000);
      inGap(child.pid);
      // No SIGCONT here: runHandlerProcess sends the next invocation first, then thaws the process.
    },
  });
  return { run, table, files, keys };
}

async function expectBothLoadedCleanly(engine: Engine, { run, table, files, keys }: Gap): Promise<void> {
  expect(run.errors).toEqual([]);
  expect(run.results.map((r) => r.files.map((f) => [f.status, f.rowsInserted]))).toEqual([
    [['loaded', 499]],
    [['loaded', 500]],
  ]);
  // The first invocation left keep-alive sockets to ClickHouse in the pool, going into the gap.
  expect(run.clickhouseSockets?.afterEach[0]).toBeGreaterThanOrEqual(1);
  // No ERROR or WARN line, and nothing about sockets, anywhere in the function's output.
  const complaints = [...run.stderrLines, ...run.logs.map((line) => JSON.stringify(line))].filter((line) => {
    const level = String(parseJson(line)[0]?.level ?? '');
    return level === 'ERROR' || level === 'WARN' || /socket|ECONNRESET|EPIPE|hang up/i.test(line);
  });
  expect(complaints).toEqual([]);
  expect(await tableState(engine.client, table)).toEqual(exactly(files.flatMap((file) => file.goodIds)));
  for (const key of keys) {
    expect(await historyOf(engine.client, bucket, key)).toMatchObject([
      { attempt: 1, status: 'loaded', error: '' },
    ]);
  }
}

/** The table's row count once two reads 300 ms apart agree. */
async function settledCount(engine: Engine, table: string): Promise<number> {
  let last = (await tableState(engine.client, table)).count;
  for (;;) {
    await sleep(300);
    const now = (await tableState(engine.client, table)).count;
    if (now === last) return now;
    last = now;
  }
}

/** Stops the server process (SIGTERM) and waits until it is gone; restart() later brings it back with its data. */
async function stopServer(server: RunningClickHouse): Promise<void> {
  const pid = server.pid();
  if (pid === undefined) throw new Error('the server has no process');
  process.kill(pid, 'SIGTERM');
  await until(
    'the server process to exit',
    async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    20_000,
  );
}
