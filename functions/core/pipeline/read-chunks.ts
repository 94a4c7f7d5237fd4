import { fieldDelimiter } from '../config/routes.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import { parseHeader } from '../format/header.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { Chunk } from './chunk.ts';
import { ChunkAssembler, HeaderTooLongError } from './chunk-assembler.ts';

export interface ChunkSource {
  /** Called with the header's names before any chunk is cut; returns whether chunks repeat the header line. */
  onHeader?: ((names: string[]) => { repeatHeader: boolean }) | undefined;
  /** Chunk buffers; the consumer releases each chunk's body once it is inserted. */
  readonly pool: BufferPool;
  /** Data rows seen (loaded, rejected, or in a chunk not yet loaded), blank lines skipped, bytes read. */
  readonly counts: { rows: number; blankLines: number; bytes: number };
}

/**
 * Decompressed bytes in, chunks out. The header (when the route has one) is parsed precisely and handed to
 * `onHeader` before the first chunk, so a schema mismatch fails the file before any row is written.
 */
export async function* readChunks(
  bytes: AsyncIterable<Buffer>,
  route: Route,
  chunking: ChunkingConfig,
  where: string,
  source: ChunkSource,
): AsyncGenerator<Chunk> {
  const delimiter = fieldDelimiter(route);
  const assembler = new ChunkAssembler({
    format: route.format,
    delimiter,
    chunking,
    header: route.format !== 'ndjson' && route.header,
    pool: source.pool,
    onHeader: (record) => {
      const names = parseHeader(record, route.format, delimiter, where);
      const { repeatHeader } = source.onHeader?.(names) ?? { repeatHeader: false };
      return repeatHeader ? record : undefined;
    },
  });
  const sync = () => {
    source.counts.rows = assembler.rowsSeen;
    source.counts.blankLines = assembler.blankLines;
    source.counts.bytes = assembler.bytesIn;
  };
  try {
    for await (const piece of bytes) {
      let chunks = assembler.push(piece);
      for (;;) {
        sync();
        for (const chunk of chunks) yield chunk;
        if (!assembler.hasLeftover) break;
        chunks = assembler.resume();
      }
    }
    const last = assembler.end();
    sync();
    for (const [i, chunk] of last.entries()) yield i === last.length - 1 ? { ...chunk, final: true } : chunk;
  } catch (error) {
    if (error instanceof HeaderTooLongError) {
      throw new ChuteError('HEADER_INVALID', `${where}, line 1: the header is unreadable: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}
