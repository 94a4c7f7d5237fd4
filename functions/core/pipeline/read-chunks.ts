import { fieldDelimiter } from '../config/routes.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import { parseHeader } from '../format/header.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { Chunk } from './chunk.ts';
import { ChunkAssembler, HeaderUnreadableError } from './chunk-assembler.ts';
import { FillingChunk } from './filling-chunk.ts';

export interface ChunkSource {
  /** Called with the header's names before any chunk is cut; returns whether chunks repeat the header line. */
  onHeader?: ((names: string[]) => { repeatHeader: boolean }) | undefined;
  /** Called as each chunk closes, before it is handed on (a chunk may be screened while another inserts). */
  onClosed?: ((chunk: Chunk) => void) | undefined;
  /** Chunk buffers; the consumer releases each chunk's body once it is inserted. */
  readonly pool: BufferPool;
  /** Data rows seen (loaded, rejected, or in a chunk not yet loaded), blank lines skipped, bytes read. */
  readonly counts: { rows: number; blankLines: number; bytes: number };
}

/**
 * Decompressed bytes in, chunks out, as soon as each opens. Reading runs on its own, ahead of the consumer,
 * for as long as the pool has a buffer for the next chunk. The header (when the route has one) is parsed
 * precisely and handed to `onHeader` before the first chunk, so a schema mismatch fails the file before any
 * row is written.
 */
export class ChunkReader {
  readonly #assembler: ChunkAssembler;
  readonly #source: ChunkSource;
  readonly #where: string;
  readonly #opened: FillingChunk[] = [];
  #waiter: (() => void) | undefined;
  #filling: FillingChunk | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #stopped = false;
  readonly #pumping: Promise<void>;

  constructor(
    bytes: AsyncIterable<Buffer>,
    route: Route,
    chunking: ChunkingConfig,
    where: string,
    source: ChunkSource,
  ) {
    const delimiter = fieldDelimiter(route);
    this.#source = source;
    this.#where = where;
    this.#assembler = new ChunkAssembler({
      format: route.format,
      delimiter,
      chunking,
      header: route.format !== 'ndjson' && route.header,
      pool: source.pool,
      onHeader: (record, line) => {
        const names = parseHeader(record, route.format, delimiter, where, line);
        const { repeatHeader } = source.onHeader?.(names) ?? { repeatHeader: false };
        return repeatHeader ? record : undefined;
      },
    });
    this.#pumping = this.#pump(bytes);
  }

  /** The next chunk, once it opens; undefined after the last. Throws what stopped the reading. */
  async next(): Promise<FillingChunk | undefined> {
    for (;;) {
      const next = this.#opened.shift();
      if (next !== undefined) return next;
      if (this.#failure !== undefined) throw this.#failure.error;
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  /** Stops reading (the file failed) and waits until nothing more is read. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#source.pool.close();
    await this.#pumping;
  }

  async #pump(bytes: AsyncIterable<Buffer>): Promise<void> {
    const assembler = this.#assembler;
    try {
      for await (const piece of bytes) {
        if (!(await this.#roomForChunk())) return;
        this.#publish(assembler.push(piece));
        while (assembler.hasLeftover) {
          if (!(await this.#roomForChunk())) return;
          this.#publish(assembler.resume());
        }
      }
      while (!assembler.finished) {
        if (!(await this.#roomForChunk())) return;
        const closed = assembler.endStep();
        // The last chunk is the last one the final step closes (rarely an earlier step's: it then only costs its
        // own chunk record, which the file's history row would have made needless).
        this.#publish(
          assembler.finished
            ? closed.map((chunk, i) => (i === closed.length - 1 ? { ...chunk, final: true } : chunk))
            : closed,
        );
      }
      this.#ended = true;
    } catch (error) {
      const failure =
        error instanceof HeaderUnreadableError
          ? new ChuteError(
              'HEADER_INVALID',
              `${this.#where}, line ${error.line}: the header is unreadable: ${error.message}`,
              {
                cause: error,
              },
            )
          : error;
      this.#failure = { error: failure };
      this.#filling?.fail(failure);
      this.#filling = undefined;
    } finally {
      if (this.#stopped && this.#failure === undefined) {
        this.#failure = { error: new Error('the chunk reader was stopped') };
        this.#filling?.fail(this.#failure.error);
      }
      this.#wakeConsumer();
    }
  }

  /**
   * Waits, when no chunk is open, until the pool can give the next one a buffer: one call of the assembler
   * opens at most one chunk (it stops scanning where a chunk closes). False once stopped.
   */
  async #roomForChunk(): Promise<boolean> {
    if (this.#stopped) return false;
    if (this.#assembler.openChunk === undefined) await this.#source.pool.whenFree();
    return !this.#stopped;
  }

  #publish(closed: readonly Chunk[]): void {
    const counts = this.#source.counts;
    counts.rows = this.#assembler.rowsSeen;
    counts.blankLines = this.#assembler.blankLines;
    counts.bytes = this.#assembler.bytesIn;
    for (const chunk of closed) {
      const filling =
        this.#filling?.index === chunk.index
          ? this.#filling
          : this.#open(chunk.index, chunk.body, chunk.prefixBytes, chunk.body.length, chunk.rows);
      filling.close(chunk);
      this.#filling = undefined;
      this.#source.onClosed?.(chunk);
    }
    const open = this.#assembler.openChunk;
    if (open === undefined) {
      // Opened for lines that turned out to be trailing blanks: no chunk comes of it.
      this.#filling?.close(undefined);
      this.#filling = undefined;
    } else if (this.#filling?.index === open.index) this.#filling.grow(open.used, open.rows);
    else this.#filling = this.#open(open.index, open.body, open.prefixBytes, open.used, open.rows);
    this.#wakeConsumer();
  }

  #open(index: number, body: Buffer, prefixBytes: number, mark: number, rows: number): FillingChunk {
    // Valid while this chunk is the one open: after it closes, the filling chunk answers with the chunk itself.
    const partial = () =>
      this.#assembler.openChunk?.index === index ? this.#assembler.snapshot() : undefined;
    const filling = new FillingChunk(index, body, prefixBytes, mark, rows, partial);
    this.#opened.push(filling);
    return filling;
  }

  #wakeConsumer(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}
