import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Compression } from '../config/schema.ts';

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Output pieces of 256 KiB instead of zlib's 16 KiB: a sixteenth of the callbacks and buffers per MB. Measured
 * on the 76 MB gzip object: the function's CPU 1.02 s (16 KiB) -> 0.89 s (64 KiB) -> 0.80 s (256 KiB), medians
 * of 4 runs each, peak RSS unchanged (101 MiB): each piece is copied into a chunk buffer at once.
 */
const GUNZIP_CHUNK_BYTES = 256 * 1024;

/**
 * Yields the object's decompressed bytes. `auto` trusts the content over the name: gzip magic bytes mean
 * gzip; otherwise a `.gz` key is still tried as gzip (so a truncated header fails loudly instead of loading
 * compressed bytes as text); anything else is read as stored. Streaming throughout: zlib holds only its window.
 */
export async function* decompress(
  source: AsyncIterable<Buffer>,
  compression: Compression,
  key: string,
  /** Told, before the first bytes are yielded, whether they are being decompressed. */
  onDetected?: (gzip: boolean) => void,
): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let done = false;
  while (headBytes < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const first = Buffer.concat(head);
  const gzip =
    compression === 'gzip' ||
    (compression === 'auto' &&
      ((first[0] === GZIP_MAGIC_0 && first[1] === GZIP_MAGIC_1) || /\.gz(ip)?$/i.test(key)));
  onDetected?.(gzip);

  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }

  if (!gzip) {
    yield* rest();
    return;
  }
  if (first.length === 0) return;
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  const input = Readable.from(rest(), { objectMode: false });
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    yield* gunzip;
  } finally {
    input.destroy();
  }
}
