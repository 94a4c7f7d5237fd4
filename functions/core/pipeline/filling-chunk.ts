import type { Chunk } from './chunk.ts';

/**
 * Each piece of a streamed body costs a write and a chunked frame. Sending at least 2 MiB at once (but the
 * last piece) instead of every socket read took chute's CPU on the bench's clean CSV from 0.88-1.06 s to
 * 0.79-0.96 s (six runs each, 16 MiB chunks); ClickHouse still starts parsing a chunk after its first 2 MiB.
 * Small chunks send an eighth of themselves at once, so that they stream too.
 */
export function sendAtLeast(maxBytes: number): number {
  return Math.max(1, Math.min(2 * 1024 * 1024, Math.floor(maxBytes / 8)));
}

/** Why a streamed insert was ended with bytes ClickHouse must refuse, instead of the rest of its chunk. */
export type Abandoned =
  | { readonly reason: 'source'; readonly error: unknown }
  | { readonly reason: 'time' }
  | { readonly reason: 'stalled' };

/**
 * A chunk while its buffer fills: the bytes below `mark` are final, so an insert can send them before the
 * chunk is whole. The reader moves the mark and closes the chunk; any number of inserts may follow it.
 */
export class FillingChunk {
  /** 0-based position in the object, as the closed chunk will have it. */
  readonly index: number;
  readonly prefixBytes: number;
  /** Whether any row reached the buffer (false: the chunk closed, or failed, with none). */
  readonly hasData: Promise<boolean>;
  /** The whole chunk once it closes; undefined when it held nothing at all (only blank lines at the end). */
  readonly closed: Promise<Chunk | undefined>;
  #buffer: Buffer;
  #mark: number;
  #grownAt = Date.now();
  #rows: number;
  readonly #partial: () => Chunk | undefined;
  #rowWaiters: { rows: number; resolve: (chunk: Chunk | undefined) => void }[] = [];
  #done = false;
  #failure: { error: unknown } | undefined;
  #changed: (() => void)[] = [];
  #resolveData!: (value: boolean) => void;
  #resolveClosed!: (chunk: Chunk | undefined) => void;
  #rejectClosed!: (error: unknown) => void;

  constructor(
    index: number,
    buffer: Buffer,
    prefixBytes: number,
    mark: number,
    rows: number,
    partial: () => Chunk | undefined = () => undefined,
  ) {
    this.index = index;
    this.#rows = rows;
    this.#partial = partial;
    this.#buffer = buffer;
    this.prefixBytes = prefixBytes;
    this.#mark = mark;
    this.hasData = new Promise((resolve) => {
      this.#resolveData = resolve;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(() => undefined); // whoever awaits it sees the failure
    if (mark > prefixBytes) this.#resolveData(true);
  }

  /** More of the buffer is final: up to `mark`, holding `rows` rows. */
  grow(mark: number, rows: number): void {
    if (mark <= this.#mark) return;
    this.#mark = mark;
    this.#grownAt = Date.now();
    this.#rows = rows;
    if (mark > this.prefixBytes) this.#resolveData(true);
    const due = this.#rowWaiters.filter((waiter) => waiter.rows <= rows);
    if (due.length > 0) {
      this.#rowWaiters = this.#rowWaiters.filter((waiter) => waiter.rows > rows);
      const partial = this.#partial();
      for (const waiter of due) waiter.resolve(partial);
    }
    this.#wake();
  }

  /**
   * The chunk as it stands once it holds `rows` rows (or whole, if it closes with fewer); undefined if it
   * cannot be read.
   */
  firstRows(rows: number): Promise<Chunk | undefined> {
    if (this.#done) return this.closed.catch(() => undefined);
    if (this.#rows >= rows) return Promise.resolve(this.#partial());
    return new Promise((resolve) => this.#rowWaiters.push({ rows, resolve }));
  }

  close(chunk: Chunk | undefined): void {
    if (chunk !== undefined) {
      this.#buffer = chunk.body;
      this.#mark = chunk.body.length;
    }
    this.#done = true;
    this.#resolveData(chunk !== undefined && chunk.rows > 0);
    this.#resolveClosed(chunk);
    for (const waiter of this.#rowWaiters.splice(0)) waiter.resolve(chunk);
    this.#wake();
  }

  /** The object could not be read to this chunk's end. */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = { error };
    this.#resolveData(false);
    this.#rejectClosed(error);
    for (const waiter of this.#rowWaiters.splice(0)) waiter.resolve(undefined);
    this.#wake();
  }

  /**
   * The chunk's bytes as they become final, in pieces of at least `atLeast` bytes (but the last), ending
   * when it closes. When it cannot close (the object failed to read), or while it is still filling `outOfTime`
   * says to stop or it has not grown for `idleLimitMs`, the body ends with `poison` instead: bytes ClickHouse
   * refuses, so that the insert commits nothing. Cutting the connection would not do: ClickHouse 18.16 commits
   * the rows of a body cut short (and the client cuts a request idle past its timeout). `onAbandon` learns
   * why, before the poison is handed over.
   */
  async *body(
    poison: Buffer,
    atLeast: number,
    onAbandon: (why: Abandoned) => void,
    outOfTime: (() => { waitMs: number; over: boolean }) | undefined,
    idleLimitMs = Number.POSITIVE_INFINITY,
  ): AsyncGenerator<Buffer> {
    let sent = 0;
    let sentAt = Date.now();
    // While the object trickles in, what has arrived goes out at least this often, so that the request's
    // socket is never idle long enough for the client to cut it.
    const flushMs = Math.min(1000, idleLimitMs / 4);
    for (;;) {
      if (this.#failure !== undefined) {
        onAbandon({ reason: 'source', ...this.#failure });
        yield poison;
        return;
      }
      if (this.#done) {
        // Closed: the rest goes out whatever the time, the chunk is whole.
        if (this.#mark > sent) yield this.#buffer.subarray(sent, this.#mark);
        return;
      }
      const time = outOfTime?.();
      const idleLeftMs = idleLimitMs - (Date.now() - this.#grownAt);
      if (time?.over === true || idleLeftMs <= 0) {
        onAbandon(time?.over === true ? { reason: 'time' } : { reason: 'stalled' });
        yield poison;
        return;
      }
      const flushLeftMs = flushMs - (Date.now() - sentAt);
      if (this.#mark - sent >= atLeast || (this.#mark > sent && flushLeftMs <= 0)) {
        const piece = this.#buffer.subarray(sent, this.#mark);
        sent = this.#mark;
        sentAt = Date.now();
        yield piece;
        continue;
      }
      const waitMs = Math.min(
        time?.waitMs ?? Number.POSITIVE_INFINITY,
        idleLeftMs,
        this.#mark > sent ? flushLeftMs : Number.POSITIVE_INFINITY,
      );
      await this.#nextChange(Number.isFinite(waitMs) ? waitMs : undefined);
    }
  }

  #nextChange(waitMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = waitMs === undefined ? undefined : setTimeout(resolve, Math.max(0, waitMs));
      this.#changed.push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
    });
  }

  #wake(): void {
    for (const wake of this.#changed.splice(0)) wake();
  }
}
