/**
 * An experiment, not chute: what streaming each chunk's insert while the chunk fills would reach. One S3 GET
 * with chute's S3 client; every piece is scanned with chute's record scanner, copied into one chunk buffer and
 * written to the open insert at once; a chunk closes at the first record end past `chunkBytes`, its insert is
 * ended and awaited, and a one-row record goes into a 4-column table before the next chunk's insert starts
 * (chute's at-least-once order). No read-ahead, no bad-row handling, no deduplication tokens.
 * Reads { endpoint, bucket, key, url, table, recordTable, chunkBytes } as JSON on stdin; prints
 * { durationMs, peakRssBytes, cpuMs, errors, rows, chunks }.
 */
import { Agent, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../functions/core/adapters/s3-client.ts';
import {
  eachRecord,
  freshBoundaryState,
  scanRecordEnds,
} from '../../functions/core/format/record-boundaries.ts';
import { ownPeakRssBytes } from '../../test/fixtures/peak-rss.ts';
import { rawInsert, readJsonInput } from '../child-io.ts';

interface Input {
  endpoint: string;
  bucket: string;
  key: string;
  url: string;
  table: string;
  recordTable: string;
  chunkBytes: number;
}

const input = await readJsonInput<Input>();
const s3 = createS3Client({ endpoint: input.endpoint });
const agent = new Agent({ keepAlive: true, maxSockets: 2 });
const COMMA = 0x2c;
const LF = 0x0a;
// Room for the record that crosses the limit (chute's maxRecordBytes is 1 MiB).
const buffer = Buffer.allocUnsafe(input.chunkBytes + 2 * 1024 * 1024);

function insertInto(table: string, format: string): URL {
  const target = new URL(input.url);
  target.searchParams.set('query', `INSERT INTO ${table} FORMAT ${format}`);
  return target;
}
const chunkTarget = insertInto(input.table, 'CSVWithNames');
const recordTarget = insertInto(input.recordTable, 'JSONEachRow');

function write(insert: ClientRequest, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (insert.write(bytes)) resolve();
    else insert.once('drain', () => resolve());
  });
}

const cpuBefore = process.cpuUsage();
const started = performance.now();
const object = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
const pieces = (object.Body as Readable)[Symbol.asyncIterator]();
/** Input after the record that closed the last chunk: the next chunk starts with it. */
let leftover: Buffer | undefined;
async function nextPiece(): Promise<Buffer | undefined> {
  const held = leftover;
  leftover = undefined;
  if (held !== undefined) return held;
  const next = await pieces.next();
  return next.done === true ? undefined : (next.value as Buffer);
}

// The header line, which every chunk repeats (CSVWithNames).
const headPieces: Buffer[] = [];
let header: Buffer | undefined;
while (header === undefined) {
  const piece = await nextPiece();
  if (piece === undefined) throw new Error('the object has no header line');
  const lf = piece.indexOf(LF);
  if (lf < 0) headPieces.push(piece);
  else {
    header = Buffer.concat([...headPieces, piece.subarray(0, lf + 1)]);
    if (lf + 1 < piece.length) leftover = piece.subarray(lf + 1);
  }
}

const state = freshBoundaryState();
let total = 0;
let chunks = 0;
let more = true;
while (more) {
  // No chunk of a header alone when the object ends exactly at a chunk's end.
  const first = await nextPiece();
  if (first === undefined) break;
  leftover = first;
  let rows = 0;
  // One chunk: its bytes go to the insert as they are copied into the buffer; it ends at the first record end
  // past chunkBytes, or at the end of the object.
  await rawInsert(
    chunkTarget,
    agent,
    async (insert) => {
      let used = header.copy(buffer, 0);
      await write(insert, buffer.subarray(0, used));
      for (;;) {
        const bytes = await nextPiece();
        if (bytes === undefined) {
          more = false;
          break;
        }
        const room = input.chunkBytes - used;
        let cutAt = -1;
        scanRecordEnds(
          'csv',
          bytes,
          0,
          COMMA,
          state,
          eachRecord(bytes, (end: number) => {
            rows++;
            if (end + 1 < room) return true;
            cutAt = end + 1;
            return false;
          }),
        );
        const to = cutAt < 0 ? bytes.length : cutAt;
        const copied = bytes.copy(buffer, used, 0, to);
        const view = buffer.subarray(used, used + copied);
        used += copied;
        await write(insert, view);
        if (cutAt >= 0) {
          if (cutAt < bytes.length) leftover = bytes.subarray(cutAt);
          break;
        }
      }
      insert.end();
    },
    { 'Transfer-Encoding': 'chunked' },
  );
  chunks++;
  total += rows;
  // The last chunk writes no record: chute records it with the file's history row.
  if (!more) break;
  const record = {
    bucket: input.bucket,
    key: input.key,
    version: 'v',
    record: JSON.stringify({ kind: 'chunk', chunk: chunks - 1, rows_inserted: rows, cut: 'experiment' }),
  };
  await rawInsert(recordTarget, agent, (insert) => void insert.end(JSON.stringify(record)));
}
const durationMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();
s3.destroy();
process.stdout.write(
  `${JSON.stringify({ durationMs, peakRssBytes: ownPeakRssBytes(), cpuMs: (cpu.user + cpu.system) / 1000, errors: [], rows: total, chunks })}\n`,
);
