import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** `gc()` is a full, synchronous collection; `gc({ type: 'minor' })` a scavenge. */
type CollectGarbage = (options?: { type: 'minor' }) => void;

/**
 * Garbage the heap may gather between files before a full collection: the per-file objects (requests, log
 * lines, SDK middleware) that outlive a scavenge end up in the old generation, and V8 only collects it once it
 * has grown by tens of megabytes. Measured over 1,000 warm small-file invocations: heap used climbed from 17
 * to 53 MiB before V8 stepped in, and RSS with it. A full collection of this small heap costs a few
 * milliseconds, once every few hundred files.
 */
const HEAP_SLACK_BYTES = 16 * 1024 * 1024;

let collector: CollectGarbage | null | undefined;

/**
 * Runs a young-generation collection (a scavenge, about a millisecond): frees the read buffers already copied
 * into chunk buffers.
 *
 * Why: every 64 KiB socket read of the S3 body (and every zlib output piece) is a fresh buffer, copied into a
 * chunk buffer at once and dead from then on. Their memory lives outside the JS heap, and V8 reclaims it only
 * when a collection finds the small JS objects holding it dead; with a few hundred bytes of JS allocated per
 * read, the young generation fills only after about a gigabyte of reads, so tens of megabytes of dead buffers
 * pile up before an external-memory limit forces a full collection. RSS then grew with object size (+33% from
 * 10 MB to 1 GB, measured). `scavengingEvery` runs one after every few megabytes read.
 */
function collectYoungGarbage(): void {
  collect('minor');
}

/**
 * Heap growth allowed within one load before a full collection. Why: the objects of each chunk's insert
 * (request, promises, listeners) live across a few scavenges and are promoted, and V8 starts no full
 * collection of its own while the old generation is far below its limit. Measured on a 3 GB object: the heap
 * in use climbed from 14 to 32 MiB, and peak RSS to 122 MiB (against about 102 at 1 GB), with no full
 * collection at all: memory grew with the object, about 6.5 MiB per GB.
 */
const LOAD_HEAP_SLACK_BYTES = 4 * 1024 * 1024;
/** The allowance never grows past this, however little collections free (see HeapWatch). */
const LOAD_HEAP_SLACK_MAX_BYTES = 64 * 1024 * 1024;
/** Scavenges between two looks at the heap during a load (2 MiB scavenges: every 32 MiB decompressed). */
const HEAP_CHECK_EVERY_SCAVENGES = 16;

/**
 * Decides, from the heap sizes it is shown, when a full collection is worth running: once the heap has grown
 * `slack` since the first look, the last collection or a lower heap. A collection that frees less than half
 * the slack means the growth is live data (a load that legitimately holds more), not garbage: the slack then
 * doubles, up to `maxSlack`, so that such a load does not pay a full collection every look.
 */
export class HeapWatch {
  #baseline: number | undefined;
  #slack: number;

  constructor(
    slack = LOAD_HEAP_SLACK_BYTES,
    readonly maxSlack = LOAD_HEAP_SLACK_MAX_BYTES,
  ) {
    this.#slack = slack;
  }

  get slack(): number {
    return this.#slack;
  }

  /** True when the heap, `used` bytes now, has grown enough since the baseline; lower heaps lower it. */
  due(used: number): boolean {
    if (this.#baseline === undefined || used < this.#baseline) {
      this.#baseline = used;
      return false;
    }
    return used - this.#baseline >= this.#slack;
  }

  /** After a collection: the heap it left is the new baseline. */
  collected(before: number, after: number): void {
    this.#baseline = after;
    if (before - after < this.#slack / 2) this.#slack = Math.min(this.#slack * 2, this.maxSlack);
  }
}

/** Between files the allowance stays at HEAP_SLACK_BYTES; it counts from chute's last full collection. */
const betweenFiles = new HeapWatch(HEAP_SLACK_BYTES, HEAP_SLACK_BYTES);

function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
}

/** A full collection, during a load or after a file: the heap it leaves is where betweenFiles counts from. */
function collectFully(): void {
  const before = heapUsed();
  collect('major');
  betweenFiles.collected(before, heapUsed());
}

export interface HeapControl {
  readonly heapUsed: () => number;
  readonly collectMajor: () => void;
}

const V8_HEAP: HeapControl = { heapUsed, collectMajor: collectFully };

/**
 * Passes the pieces through, with a scavenge after every `bytes` of them, so that the dead read buffers never
 * add up to more than about that much, whatever the chunk size; and every HEAP_CHECK_EVERY_SCAVENGES
 * scavenges a look at the heap (a HeapWatch of the load's own), so that what long loads promote does not add up either.
 * Objects under 16 scavenges' worth of bytes are never looked at during their load.
 */
export async function* scavengingEvery(
  pieces: AsyncIterable<Buffer>,
  bytes: number,
  heap: HeapControl = V8_HEAP,
): AsyncGenerator<Buffer> {
  const watch = new HeapWatch();
  let since = 0;
  let scavenges = 0;
  for await (const piece of pieces) {
    yield piece;
    since += piece.length;
    if (since >= bytes) {
      since = 0;
      collectYoungGarbage();
      if (++scavenges % HEAP_CHECK_EVERY_SCAVENGES !== 0) continue;
      const before = heap.heapUsed();
      if (!watch.due(before)) continue;
      heap.collectMajor();
      watch.collected(before, heap.heapUsed());
    }
  }
}

/**
 * After a file: a full collection if the heap has grown more than HEAP_SLACK_BYTES since chute's last full
 * collection (after a file or during a load) or since it was last seen lower.
 */
export function collectIfHeapGrew(): void {
  if (betweenFiles.due(heapUsed())) collectFully();
}

/**
 * V8 flags that keep the scavenges' work on the thread that asked for it. Why: by default a scavenge splits its
 * copying among V8's worker threads and frees dead read buffers in a background task, and the next collection
 * waits for both; on a machine whose cores are busy (two shared with ClickHouse and S3 here, one vCPU or less on
 * most Lambda sizes) the function's thread spends that wait idle. Measured over the 69 scavenges of one
 * 128 MB NDJSON load: 96-156 ms of pauses by default, 43-74 with both flags (80-88 and 89-113 with one each).
 * Measured only on that 2-core machine; a Lambda with several vCPUs to itself might win a few milliseconds back
 * from parallel scavenges, which has not been measured. V8 reads the first flag as each scavenge starts and the
 * second each time it asks for a sweep of array buffers (its source; the test sees the first's effect), so
 * both can be set in a running process: tried on Node 20, 22 and 24. NODE_OPTIONS does not accept them, and
 * `--single-threaded-gc`, which covers them, crashed a running process when set (it also stops concurrent
 * marking).
 */
export const THIS_THREAD_COLLECTION_FLAGS = [
  '--no-parallel-scavenge',
  '--no-concurrent-array-buffer-sweeping',
] as const;

/**
 * The collector is the one `--expose-gc` gives; it is obtained once per container, the way test runners do
 * it, without changing the process's command line. Where that is refused, collection is left to V8. The same
 * first call keeps later collections on this thread (THIS_THREAD_COLLECTION_FLAGS).
 */
function collect(type: 'minor' | 'major'): void {
  if (collector === undefined) {
    for (const flag of THIS_THREAD_COLLECTION_FLAGS) setFlagsFromString(flag);
    collector = exposeCollector();
    if (collector === null) {
      // Once per process: without it, memory still works, but grows as V8's defaults let it.
      process.emitWarning('chute: no garbage collector handle (--expose-gc refused); memory is left to V8');
    }
  }
  // Why not `{ type: 'major' }`: on Node 20 it left most of a dead heap in place where `gc()` freed it all.
  if (type === 'minor') collector?.({ type });
  else collector?.();
}

function exposeCollector(): CollectGarbage | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as CollectGarbage;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as CollectGarbage) : null;
  } catch {
    return null;
  }
}
