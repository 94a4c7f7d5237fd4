/**
 * An experiment, not chute: what streaming each chunk's insert while the chunk fills would reach. One S3 GET
 * with chute's S3 client; every piece is scanned with chute's record scanner, copied into one chunk buffer and
 * written to the open insert at once; a chunk closes at the first record end past `chunkBytes`, its insert is
 * ended and awaited, and a one-row record goes into a 4-column table before the next chunk's insert starts
 * (chute's at-least-once order). No read-ahead, no bad-row handling, no deduplication tokens.
 * Reads { endpoint, bucket, key, url, table, recordTable, chunkBytes } as JSON on stdin; prints
 * { durationMs, peakRssBytes, cpuMs, errors, rows, chunks }.
 */
import { Agent, type ClientRequest, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../functions/core/adapters/s3-client.ts';
import { freshBoundaryState, scanRecordEnds } from '../../functions/core/format/record-boundaries.ts';
import { ownPeakRssBytes } from '../../test/fixtures/peak-rss.ts';
import { readJsonInput } from '../child-io.ts';

interface Input {
  endpoint: string;
  bucket: string;
  key: string;
  url: string;
  table: string;
  recordTable: string;
  chunkBytes: number;
}

interface OpenInsert {
  readonly request: ClientRequest;
  readonly answered: Promise<void>;
}

const input = await readJsonInput<Input>();
const s3 = createS3Client({ endpoint: input.endpoint });
const agent = new Agent({ keepAlive: true, maxSockets: 2 });
const COMMA = 0x2c;
const LF = 0x0a;
// Room for the record that crosses the limit (chute's maxRecordBytes is 1 MiB).
const buffer = Buffer.allocUnsafe(input.chunkBytes + 2 * 1024 * 1024);

function openInsert(query: string): OpenInsert {
  const target = new URL(input.url);
  target.searchParams.set('query', query);
  const insert = request(target, { method: 'POST', agent, headers: { 'Transfer-Encoding': 'chunked' } });
  const answered = new Promise<void>((resolve, reject) => {
    insert.on('error', reject);
    insert.on('response', (response) => {
      const body: Buffer[] = [];
      response.on('data', (data: Buffer) => body.push(data));
      response.on('end', () =>
        response.statusCode === 200
          ? resolve()
          : reject(new Error(Buffer.concat(body).toString('utf8').slice(0, 300))),
      );
    });
  });
  return { request: insert, answered };
}

function write(insert: OpenInsert, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (insert.request.write(bytes)) resolve();
    else insert.request.once('drain', () => resolve());
  });
}

const cpuBefore = process.cpuUsage();
const started = performance.now();
const object = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
const state = freshBoundaryState();
let header: Buffer | undefined;
let headPieces: Buffer[] = [];
let used = 0;
let rows = 0;
let chunks = 0;
let total = 0;
let current: OpenInsert | undefined;

async function startChunk(head: Buffer): Promise<OpenInsert> {
  const insert = openInsert(`INSERT INTO ${input.table} FORMAT CSVWithNames`);
  used = head.copy(buffer, 0);
  await write(insert, buffer.subarray(0, used));
  return insert;
}

/** The last chunk writes no record: chute records it with the file's history row. */
async function closeChunk(insert: OpenInsert, last: boolean): Promise<void> {
  insert.request.end();
  await insert.answered;
  total += rows;
  if (last) return;
  const record = openInsert(`INSERT INTO ${input.recordTable} FORMAT JSONEachRow`);
  record.request.end(
    JSON.stringify({
      bucket: input.bucket,
      key: input.key,
      version: 'v',
      record: JSON.stringify({ kind: 'chunk', chunk: chunks, rows_inserted: rows, cut: 'experiment' }),
    }),
  );
  await record.answered;
  chunks++;
  rows = 0;
}

for await (const piece of object.Body as Readable) {
  let bytes = piece as Buffer;
  if (header === undefined) {
    const lf = bytes.indexOf(LF);
    if (lf < 0) {
      headPieces.push(bytes);
      continue;
    }
    header = Buffer.concat([...headPieces, bytes.subarray(0, lf + 1)]);
    headPieces = [];
    bytes = bytes.subarray(lf + 1);
  }
  let from = 0;
  while (from < bytes.length) {
    current ??= await startChunk(header);
    const room = input.chunkBytes - used;
    const scanFrom = from;
    let cutAt = -1;
    scanRecordEnds('csv', bytes, from, COMMA, state, (end: number) => {
      rows++;
      if (end - scanFrom + 1 < room) return true;
      cutAt = end + 1;
      return false;
    });
    const to = cutAt < 0 ? bytes.length : cutAt;
    const copied = bytes.copy(buffer, used, from, to);
    const view = buffer.subarray(used, used + copied);
    used += copied;
    await write(current, view);
    from = to;
    if (cutAt >= 0) {
      await closeChunk(current, false);
      current = undefined;
    }
  }
}
if (current !== undefined) {
  await closeChunk(current, true);
  chunks++;
}
const durationMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();
s3.destroy();
process.stdout.write(
  `${JSON.stringify({ durationMs, peakRssBytes: ownPeakRssBytes(), cpuMs: (cpu.user + cpu.system) / 1000, errors: [], rows: total, chunks })}\n`,
);
