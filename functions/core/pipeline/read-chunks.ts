import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import { parseHeader } from '../format/header.ts';
import { RecordScanner } from '../format/record-scanner.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { Chunk } from './chunk.ts';
import { Chunker } from './chunker.ts';

export interface ChunkSource {
  /** Called with the header's names before any chunk is cut; returns whether chunks repeat the header line. */
  onHeader?: ((names: string[]) => { repeatHeader: boolean }) | undefined;
  /** Chunk buffers; the consumer releases each chunk's body once it is inserted. */
  readonly pool: BufferPool;
  /** Data rows seen (loaded, rejected, or in a chunk not yet loaded) and blank lines skipped. */
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
  const delimiter = route.delimiter ?? ',';
  const ready: Chunk[] = [];
  const fixedColumns = route.format === 'ndjson' ? undefined : route.columns;
  let chunker: Chunker | undefined =
    route.format === 'ndjson' || !route.header
      ? new Chunker({
          chunking,
          expectedFields: fixedColumns?.length,
          columnNames: fixedColumns,
          pool: source.pool,
        })
      : undefined;
  const scanner = new RecordScanner(
    { format: route.format, delimiter, maxRecordBytes: chunking.maxRecordBytes },
    {
      record: (record) => {
        if (chunker === undefined) {
          // Blank lines before the header are not the header.
          if (record.bytes.every((byte) => byte === 0x20 || byte === 0x0d)) return;
          const names = parseHeader(record.bytes, route.format, delimiter, where);
          const { repeatHeader } = source.onHeader?.(names) ?? { repeatHeader: false };
          chunker = new Chunker({
            chunking,
            expectedFields: names.length,
            columnNames: names,
            prefix: repeatHeader ? Buffer.from(record.bytes) : undefined,
            pool: repeatHeader ? undefined : source.pool,
          });
          return;
        }
        const chunk = chunker.add(record, source.counts.bytes);
        if (chunk !== undefined) ready.push(chunk);
      },
      oversized: (record) => {
        if (chunker === undefined) {
          throw new ChuteError(
            'HEADER_INVALID',
            `${where}, line ${record.line}: the header is unreadable: ${record.reason}`,
          );
        }
        chunker.reject(record);
      },
    },
  );
  const sync = () => {
    source.counts.rows = chunker?.rowsSeen ?? 0;
    source.counts.blankLines = chunker?.blankLines ?? 0;
  };
  for await (const piece of bytes) {
    source.counts.bytes += piece.length;
    scanner.push(piece);
    sync();
    while (ready.length > 0) {
      const chunk = ready.shift();
      if (chunk !== undefined) yield chunk;
    }
  }
  scanner.end();
  sync();
  for (const chunk of ready) yield chunk;
  const last = (chunker as Chunker | undefined)?.finish(source.counts.bytes);
  if (last !== undefined) yield last;
}
