import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/**
 * Deterministic test data, generated into the temp dir at run time (nothing large is committed). One table
 * shape for every scenario, about 76 bytes per CSV row: a realistic event log with quoted fields, escaped
 * quotes, commas inside quotes and (rarely) a line break inside a quoted field, so that chute's quote-aware
 * scanner does the work it does on real files.
 */
export const TABLE_COLUMNS =
  '(id UInt64, ts DateTime, user String, action String, amount Float64, note String)';
export const CSV_HEADER = 'id,ts,user,action,amount,note';

export type BadKind = 'amount' | 'timestamp' | 'fields';
/** Rotated among bad rows: two that only ClickHouse can refuse, one (a missing field) that chute's scanner catches. */
const BAD_KINDS: readonly BadKind[] = ['amount', 'timestamp', 'fields'];

export interface GeneratedFile {
  path: string;
  bytes: number;
  /** Data rows, bad ones included. */
  rows: number;
}

export interface CsvFile extends GeneratedFile {
  /** Physical line (1-based, header = line 1) where each bad row starts, ascending. */
  badLines: number[];
  /** The same file without its bad rows: what the ceiling POSTs. */
  clean?: GeneratedFile;
}

/** mulberry32: a tiny seeded PRNG, so every run generates the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIONS = ['view', 'click', 'purchase', 'refund', 'signup', 'logout'] as const;
const BASE_SECONDS = Date.UTC(2024, 0, 1) / 1000;

interface Fields {
  id: number;
  ts: string;
  user: string;
  action: string;
  amount: number;
  /** The note as CSV text (quoted when it needs to be) and as the value it encodes. */
  noteCsv: string;
  note: string;
}

class RowMaker {
  readonly #rand: () => number;
  #day = -1;
  #dayText = '';

  constructor(seed: number) {
    this.#rand = prng(seed);
  }

  fields(index: number): Fields {
    const rand = this.#rand;
    const id = index + 1;
    const seconds = BASE_SECONDS + index;
    const day = Math.floor(seconds / 86_400);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayText = new Date(day * 86_400_000).toISOString().slice(0, 10);
    }
    const inDay = seconds - day * 86_400;
    const ts = `${this.#dayText} ${two(Math.floor(inDay / 3600))}:${two(Math.floor(inDay / 60) % 60)}:${two(inDay % 60)}`;
    const user = `user_${Math.floor(rand() * 100_000)}`;
    const action = ACTIONS[Math.floor(rand() * ACTIONS.length)] ?? 'view';
    const amount = Math.floor(rand() * 1_000_000) / 100;
    const shape = rand();
    const pad = 'x'.repeat(index % 6);
    let note: string;
    let noteCsv: string;
    if (shape < 0.001) {
      note = `two-line note\nfor row ${id}`;
      noteCsv = `"${note}"`;
    } else if (shape < 0.1) {
      note = `note, with "quotes" ${id}`;
      noteCsv = `"note, with ""quotes"" ${id}"`;
    } else {
      note = `note for row ${id} ${pad}`;
      noteCsv = note;
    }
    return { id, ts, user, action, amount, noteCsv, note };
  }
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function csvLine(f: Fields, bad: BadKind | undefined): string {
  const ts = bad === 'timestamp' ? 'yesterday' : f.ts;
  const amount = bad === 'amount' ? 'n/a' : String(f.amount);
  const tail = bad === 'fields' ? '' : `,${f.noteCsv}`;
  return `${f.id},${ts},${f.user},${f.action},${amount}${tail}\n`;
}

function ndjsonLine(f: Fields): string {
  return `${JSON.stringify({ id: f.id, ts: f.ts, user: f.user, action: f.action, amount: f.amount, note: f.note })}\n`;
}

function lineBreaks(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/** A file written in batches, honouring backpressure so memory stays flat at any size. */
class Sink {
  readonly #stream: WriteStream;
  #batch: string[] = [];
  #batchChars = 0;
  bytes = 0;

  constructor(path: string) {
    this.#stream = createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 });
  }

  async add(text: string): Promise<void> {
    this.#batch.push(text);
    this.#batchChars += text.length;
    this.bytes += Buffer.byteLength(text);
    if (this.#batchChars >= 1024 * 1024) await this.#flush();
  }

  async #flush(): Promise<void> {
    const text = this.#batch.join('');
    this.#batch = [];
    this.#batchChars = 0;
    if (!this.#stream.write(text)) await once(this.#stream, 'drain');
  }

  async close(): Promise<void> {
    await this.#flush();
    this.#stream.end();
    await once(this.#stream, 'finish');
  }
}

export interface CsvSpec {
  path: string;
  /** Stop after this many data rows, or once the file reaches targetBytes. */
  rows?: number;
  targetBytes?: number;
  /** One bad row in every `badEvery` rows, at a pseudo-random place within each block of that many. */
  badEvery?: number;
  /** Also write the file without its bad rows here. */
  cleanPath?: string;
  seed?: number;
}

export async function generateCsv(spec: CsvSpec): Promise<CsvFile> {
  const maker = new RowMaker(spec.seed ?? 1);
  const places = prng((spec.seed ?? 1) ^ 0x5bd1e995);
  const sink = new Sink(spec.path);
  const clean = spec.cleanPath === undefined ? undefined : new Sink(spec.cleanPath);
  const header = `${CSV_HEADER}\n`;
  await sink.add(header);
  await clean?.add(header);
  const badLines: number[] = [];
  let line = 2;
  let badAt = -1;
  let cleanRows = 0;
  let index = 0;
  const limit = spec.rows ?? Number.POSITIVE_INFINITY;
  const target = spec.targetBytes ?? Number.POSITIVE_INFINITY;
  for (; index < limit && sink.bytes < target; index++) {
    const every = spec.badEvery;
    if (every !== undefined && index % every === 0) badAt = index + Math.floor(places() * every);
    const bad = index === badAt ? BAD_KINDS[badLines.length % BAD_KINDS.length] : undefined;
    const text = csvLine(maker.fields(index), bad);
    if (bad !== undefined) badLines.push(line);
    else {
      cleanRows++;
      await clean?.add(text);
    }
    await sink.add(text);
    line += lineBreaks(text);
  }
  await sink.close();
  await clean?.close();
  return {
    path: spec.path,
    bytes: sink.bytes,
    rows: index,
    badLines,
    ...(clean === undefined || spec.cleanPath === undefined
      ? {}
      : { clean: { path: spec.cleanPath, bytes: clean.bytes, rows: cleanRows } }),
  };
}

export async function generateNdjson(path: string, rows: number, seed = 2): Promise<GeneratedFile> {
  const maker = new RowMaker(seed);
  const sink = new Sink(path);
  for (let index = 0; index < rows; index++) await sink.add(ndjsonLine(maker.fields(index)));
  await sink.close();
  return { path, bytes: sink.bytes, rows };
}

/** A small CSV of about `targetBytes`, header included, with ids that continue across files. */
export function smallCsv(fileIndex: number, targetBytes: number): { body: Buffer; rows: number } {
  const maker = new RowMaker(1000 + fileIndex);
  let text = `${CSV_HEADER}\n`;
  let rows = 0;
  while (text.length < targetBytes - 40) {
    text += csvLine(maker.fields(fileIndex * 1000 + rows), undefined);
    rows++;
  }
  return { body: Buffer.from(text), rows };
}

export async function gzipFile(source: string, target: string): Promise<number> {
  await pipeline(createReadStream(source), createGzip({ level: 6 }), createWriteStream(target));
  return (await stat(target)).size;
}
