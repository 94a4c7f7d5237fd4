import type { ChunkingConfig } from '../config/schema.ts';
import type { OversizedRecord, ScannedRecord } from '../format/record-scanner.ts';
import type { RejectedRow } from '../ports/object-store.ts';
import { BufferPool } from './buffer-pool.ts';
import type { Chunk } from './chunk.ts';
import { GrowableUint32 } from './growable.ts';

const LF = 0x0a;

export interface ChunkerOptions {
  chunking: ChunkingConfig;
  /** Records with another field count are rejected here, before ClickHouse sees them. */
  expectedFields?: number | undefined;
  /** Names for the field-count message. */
  columnNames?: readonly string[] | undefined;
  /** Bytes put in front of every chunk (a header line for *WithNames formats). */
  prefix?: Buffer | undefined;
  /** Where chunk buffers come from; the consumer releases each chunk's body to it once inserted. */
  pool?: BufferPool | undefined;
}

/**
 * Packs scanned records into chunks. A chunk closes at the first record boundary past `maxBytes` or at
 * `maxRows`: a rule that depends only on the bytes, so the same object always yields the same chunks.
 * Records are copied once into a chunk-sized buffer; nothing else holds file bytes.
 */
export class Chunker {
  readonly #options: ChunkerOptions;
  readonly #pool: BufferPool;
  #index = 0;
  #rowNumber = 0;
  #body: Buffer;
  #used = 0;
  #offsets = new GrowableUint32();
  #lines = new GrowableUint32();
  #rowNumbers = new GrowableUint32();
  #rejected: RejectedRow[] = [];
  #blankLines = 0;

  constructor(options: ChunkerOptions) {
    this.#options = options;
    this.#pool =
      options.pool ?? new BufferPool(chunkBufferSize(options.chunking, options.prefix?.length ?? 0));
    this.#body = this.#newBody();
  }

  /** Data rows seen so far: loaded, rejected or still to load. */
  get rowsSeen(): number {
    return this.#rowNumber;
  }

  get blankLines(): number {
    return this.#blankLines;
  }

  /** Adds one record; returns a chunk when this record filled one. */
  add(record: ScannedRecord, bytesThrough: number): Chunk | undefined {
    if (isBlank(record.bytes)) {
      this.#blankLines++;
      return undefined;
    }
    const row = ++this.#rowNumber;
    const expected = this.#options.expectedFields;
    if (expected !== undefined && record.fields !== expected) {
      this.#rejected.push({
        line: record.line,
        row,
        reason: `expected ${expected} fields (${this.#describeColumns()}), found ${record.fields}`,
        raw: record.bytes.toString('utf8'),
      });
      return undefined;
    }
    this.#offsets.push(this.#used);
    this.#lines.push(record.line);
    this.#rowNumbers.push(row);
    record.bytes.copy(this.#body, this.#used);
    this.#used += record.bytes.length;
    this.#body[this.#used++] = LF;
    const { maxBytes, maxRows } = this.#options.chunking;
    if (this.#used - this.#prefixBytes() >= maxBytes || this.#offsets.length >= maxRows) {
      return this.#close(bytesThrough);
    }
    return undefined;
  }

  reject(record: OversizedRecord): void {
    this.#rejected.push({
      line: record.line,
      row: ++this.#rowNumber,
      reason: record.reason,
      raw: record.bytes.toString('utf8'),
    });
  }

  /** The last, partly filled chunk (or one holding only rejected rows); undefined when nothing is left. */
  finish(bytesThrough: number): Chunk | undefined {
    if (this.#offsets.length === 0 && this.#rejected.length === 0) return undefined;
    return this.#close(bytesThrough);
  }

  #close(bytesThrough: number): Chunk {
    this.#offsets.push(this.#used);
    const chunk: Chunk = {
      index: this.#index++,
      body: this.#body.subarray(0, this.#used),
      prefixBytes: this.#prefixBytes(),
      offsets: this.#offsets.toArray(),
      lines: this.#lines.toArray(),
      rowNumbers: this.#rowNumbers.toArray(),
      rejected: this.#rejected,
      bytesThrough,
    };
    this.#body = this.#newBody();
    this.#offsets = new GrowableUint32();
    this.#lines = new GrowableUint32();
    this.#rowNumbers = new GrowableUint32();
    this.#rejected = [];
    return chunk;
  }

  #newBody(): Buffer {
    const body = this.#pool.acquire();
    const prefix = this.#options.prefix;
    this.#used = 0;
    if (prefix !== undefined) {
      prefix.copy(body, 0);
      this.#used = prefix.length;
      body[this.#used++] = LF;
    }
    return body;
  }

  #prefixBytes(): number {
    const prefix = this.#options.prefix;
    return prefix === undefined ? 0 : prefix.length + 1;
  }

  #describeColumns(): string {
    const names = this.#options.columnNames;
    if (names === undefined) return 'the header';
    const shown = names.slice(0, 8).join(', ');
    return names.length > 8 ? `${shown}, …` : shown;
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (byte !== 0x20 && byte !== 0x0d) return false;
  }
  return true;
}

/** Room for a full chunk, one record that overflows it, and the prefix. */
export function chunkBufferSize(chunking: ChunkingConfig, prefixBytes: number): number {
  return prefixBytes + 1 + chunking.maxBytes + chunking.maxRecordBytes + 1;
}
