/**
 * Chunk buffers, reused, and how many may be out at once. A 300 MB file cut into 16 MB chunks would otherwise
 * allocate twenty 18 MB buffers and leave freeing them to the garbage collector, which lets RSS climb with
 * file size; a pool holds the working set (the chunks inserting, and one read ahead when inserts do not stream)
 * and nothing more. The reader waits for `whenFree` before it opens a chunk: that wait is what stops reading
 * the object while inserts are behind.
 */
export class BufferPool {
  #size: number;
  #handedOut = false;
  #out = 0;
  #capacity: number;
  #closed = false;
  readonly #free: Buffer[] = [];
  #waiting: (() => void)[] = [];

  constructor(size: number, capacity = 2) {
    this.#size = size;
    this.#capacity = capacity;
  }

  /** Buffers that may be out at once. Raised while a file runs (its inserts stopped streaming). */
  set capacity(capacity: number) {
    if (this.#closed) return;
    this.#capacity = capacity;
    this.#wake();
  }

  /** Resolves once a buffer can be taken without going over capacity. */
  whenFree(): Promise<void> {
    if (this.#out < this.#capacity) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** No more waiting, now or later: the reader is stopping. */
  close(): void {
    this.#closed = true;
    this.#capacity = Number.POSITIVE_INFINITY;
    this.#wake();
  }

  get bufferSize(): number {
    return this.#size;
  }

  /**
   * Makes buffers no bigger than `bytes` when that is all a chunk can need (a small plain object): a 2 KB file
   * must not cost a 10 MB allocation, which also drives the collector into a full cycle every few files.
   * Only before the first buffer is handed out, so every buffer of a file has one size.
   */
  fitTo(bytes: number): void {
    if (!this.#handedOut && bytes < this.#size) this.#size = Math.max(1, bytes);
  }

  acquire(): Buffer {
    this.#handedOut = true;
    this.#out++;
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  /** Hands a buffer back once nothing reads it any more (its insert has finished). */
  release(buffer: Buffer): void {
    this.#out = Math.max(0, this.#out - 1);
    const whole =
      buffer.byteOffset === 0 && buffer.buffer.byteLength === this.#size
        ? Buffer.from(buffer.buffer, 0, this.#size)
        : undefined;
    if (whole !== undefined && this.#free.length < this.#capacity) this.#free.push(whole);
    this.#wake();
  }

  #wake(): void {
    while (this.#out < this.#capacity && this.#waiting.length > 0) this.#waiting.shift()?.();
  }
}

/**
 * When inserts do not stream, one more chunk is read while they run: S3 reads overlap inserts, memory stays
 * flat.
 */
export const READ_AHEAD_CHUNKS = 1;

/** The most chunk buffers one file holds at once: one per insert in flight, and one read ahead. */
export function mostChunkBuffers(chunking: { insertsInFlight: number }): number {
  return chunking.insertsInFlight + READ_AHEAD_CHUNKS;
}

/**
 * Room for a full chunk, one record that overflows it, and a header line repeated in front (a header is held
 * to maxRecordBytes too).
 */
export function chunkBufferSize(chunking: { maxBytes: number; maxRecordBytes: number }): number {
  return chunking.maxBytes + 2 * (chunking.maxRecordBytes + 1);
}

/**
 * The most a chunk of a plain (not compressed) object of `objectBytes` can hold: a repeated header line (at
 * most the whole object) and the records (at most the whole object, plus the line feed added to a last line
 * that lacks one).
 */
export function plainChunkBound(objectBytes: number): number {
  return 2 * objectBytes + 2;
}
