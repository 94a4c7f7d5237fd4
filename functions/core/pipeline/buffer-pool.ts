/**
 * Chunk buffers, reused. A 300 MB file cut into 8 MB chunks would otherwise allocate forty 9 MB buffers and
 * leave freeing them to the garbage collector, which lets RSS climb with file size; a pool holds the working
 * set (one chunk inserting, one read ahead, one filling) and nothing more.
 */
export class BufferPool {
  #size: number;
  #handedOut = false;
  readonly #keep: number;
  readonly #free: Buffer[] = [];

  constructor(size: number, keep = 2) {
    this.#size = size;
    this.#keep = keep;
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
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  /** Hands a buffer back once nothing reads it any more (its insert has finished). */
  release(buffer: Buffer): void {
    const whole =
      buffer.byteOffset === 0 && buffer.buffer.byteLength === this.#size
        ? Buffer.from(buffer.buffer, 0, this.#size)
        : undefined;
    if (whole !== undefined && this.#free.length < this.#keep) this.#free.push(whole);
  }
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
