/**
 * Full-size chunk buffers kept from one file to the next: a container (a warm Lambda, the local runner)
 * allocates its working set once instead of once per file, and the collector never has an 18 MiB buffer to
 * reclaim between files. The Lambda container makes one per insert in flight while it starts (`reserveNow`);
 * elsewhere the first file that needs a full-size buffer does. Each is written through so that its pages are
 * resident: from then on a clean file needs the same memory at 10 MB as at 1 GB. (A 10 MB object fills one
 * chunk; grown on demand, the second buffer and the pages a small chunk never wrote showed up only with large
 * objects: 85-88 against 99-104 MiB with one buffer, 100 against 120-122 with two.) That maximum is what a
 * function's memory setting is sized against; Lambda bills the memory configured, not the pages touched. A
 * buffer past those (the read-ahead of a file with bad rows and one insert in flight) is made when first
 * needed, and kept. Outside Lambda, a container that only ever sees small plain objects (fitted buffers) makes
 * none.
 */
export class ChunkBufferStore {
  readonly #free: Buffer[] = [];
  /**
   * The memory of every buffer handed out and not given back. Weak: a file that fails may never give its
   * buffers back, and a strong hold would keep them for the container's life.
   */
  readonly #out = new WeakSet<ArrayBufferLike>();
  #reserved = false;

  /**
   * `keep`: the buffers held between files at most, the most one file takes at once; `reserve`: how many of
   * them the first take makes (default all).
   */
  constructor(
    readonly size: number,
    readonly keep: number,
    readonly reserve = keep,
  ) {}

  /** Whether full-size buffers have been made: then even a small object is cheaper in one of them. */
  get reserved(): boolean {
    return this.#reserved;
  }

  /**
   * Makes the working set now, if it is not made yet: a container does it while it starts (in Lambda's init,
   * before its first event), so that the first file does not wait for it (zero-filling two 18 MiB buffers took
   * 19-22 ms of that file's time, measured in profiles). The first take does it otherwise.
   */
  reserveNow(): void {
    if (this.#reserved) return;
    this.#reserved = true;
    while (this.#free.length < Math.min(this.reserve, this.keep)) this.#free.push(residentBuffer(this.size));
  }

  take(): Buffer {
    this.reserveNow();
    const buffer = this.#free.pop() ?? residentBuffer(this.size);
    this.#out.add(buffer.buffer);
    return buffer;
  }

  /** Takes back a buffer it handed out; one given twice, or never taken from here, is ignored. */
  give(buffer: Buffer): void {
    if (!this.#out.delete(buffer.buffer)) return;
    if (buffer.length === this.size && this.#free.length < this.keep) this.#free.push(buffer);
  }

  /** Buffers waiting to be taken (for tests). */
  get held(): number {
    return this.#free.length;
  }
}

/** A buffer whose pages are all resident: written once, so that RSS does not grow later as chunks fill it. */
function residentBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size).fill(0);
}

/**
 * Chunk buffers, reused, and how many may be out at once. A 300 MB file cut into 16 MB chunks would otherwise
 * allocate twenty 18 MB buffers and leave freeing them to the garbage collector, which lets RSS climb with
 * file size; a pool holds the working set (the chunks inserting, and with one insert in flight one more read
 * ahead when inserts do not stream) and nothing more. The reader waits for `whenFree` before it opens a
 * chunk: that wait is what stops reading the object while inserts are behind. Full-size buffers come from, and
 * go back to, a ChunkBufferStore that outlives the file.
 */
export class BufferPool {
  #size: number;
  readonly #store: ChunkBufferStore;
  #handedOut = false;
  #out = 0;
  #capacity: number;
  #closed = false;
  readonly #free: Buffer[] = [];
  #waiting: (() => void)[] = [];

  /** `store`: where full-size buffers come from and go back to; by default one for this pool alone. */
  constructor(size: number, capacity = 2, store = new ChunkBufferStore(size, capacity)) {
    this.#size = size;
    this.#capacity = capacity;
    this.#store = store;
  }

  /** Buffers that may be out at once. Raised while a file runs when its inserts stop streaming (one in flight). */
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
   * Not once the store has made its buffers: one of those costs nothing more, and a fitted buffer on top of
   * them would make a 9 MB object need more memory than a 1 GB one. Only before the first buffer is handed
   * out, so every buffer of a file has one size.
   */
  fitTo(bytes: number): void {
    if (!this.#handedOut && !this.#store.reserved && bytes < this.#size) this.#size = Math.max(1, bytes);
  }

  acquire(): Buffer {
    this.#handedOut = true;
    this.#out++;
    if (this.#size === this.#store.size) return this.#store.take();
    // Fitted: its pages become resident only as the object fills them.
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  /** Hands a buffer back once nothing reads it any more (its insert has finished). */
  release(buffer: Buffer): void {
    this.#out = Math.max(0, this.#out - 1);
    const whole =
      buffer.byteOffset === 0 && buffer.buffer.byteLength === this.#size
        ? Buffer.from(buffer.buffer, 0, this.#size)
        : undefined;
    if (whole !== undefined && this.#size === this.#store.size) this.#store.give(whole);
    else if (whole !== undefined && this.#free.length < this.#capacity) this.#free.push(whole);
    this.#wake();
  }

  #wake(): void {
    while (this.#out < this.#capacity && this.#waiting.length > 0) this.#waiting.shift()?.();
  }
}

/**
 * When inserts do not stream (bad rows are screened before the insert), one chunk is read while another
 * inserts: S3 reads overlap inserts, memory stays flat.
 */
export const READ_AHEAD_CHUNKS = 1;

/**
 * The most chunk buffers one file holds at once: one per insert in flight, and at least one chunk read while
 * another inserts. With two or more in flight, the read-ahead shares their buffers instead of adding one: a
 * third 18 MiB buffer took files with bad rows to 146-158 MiB peak RSS, over the 150 MiB the bench allows.
 */
export function mostChunkBuffers(chunking: { insertsInFlight: number }): number {
  return Math.max(chunking.insertsInFlight, 1 + READ_AHEAD_CHUNKS);
}

/** The store for files cut by `chunking`: one buffer made per insert in flight, up to mostChunkBuffers kept. */
export function storeFor(chunking: {
  maxBytes: number;
  maxRecordBytes: number;
  insertsInFlight: number;
}): ChunkBufferStore {
  return new ChunkBufferStore(
    chunkBufferSize(chunking),
    mostChunkBuffers(chunking),
    chunking.insertsInFlight,
  );
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
