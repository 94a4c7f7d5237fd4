import type { ChuteErrorCode } from '../errors.ts';
import type { ObjectRef } from '../ports/object-store.ts';
/** The one structured line per file: what was read, what landed, what was rejected, and where. */
export interface FileSummary {
  status: 'loaded' | 'skipped' | 'failed';
  bucket: string;
  key: string;
  versionId: string | undefined;
  eTag: string | undefined;
  route: string | undefined;
  table: string | undefined;
  /** What this load could promise: exactly-once, or at-least-once (with deliveryNote saying why). */
  delivery: 'exactly-once' | 'at-least-once' | undefined;
  deliveryNote?: string;
  /** 1 for the first attempt at this object version, 2 for its first retry, and so on. */
  attempt: number;
  /** Bytes read from the object as stored (compressed, when it is). */
  bytes: number;
  /** Bytes after decompression. */
  bytesDecompressed: number;
  /** Data rows read: always rowsInserted + rowsRejected for a loaded file. */
  rowsRead: number;
  rowsInserted: number;
  rowsRejected: number;
  blankLines: number;
  chunks: number;
  /** Chunks an earlier attempt committed, skipped by this one. */
  chunksResumed: number;
  inserts: number;
  rejectsLocation: string | undefined;
  durationMs: number;
  /** Why a file was skipped or failed. */
  reason?: string;
  /**
   * Why a file was skipped: ALREADY_LOADED (a duplicate event), VERSION_GONE (the version was deleted or
   * overwritten before its event was handled: its rows are not loaded, beyond chunks an earlier attempt
   * committed, and nothing will load them).
   */
  skipCode?: 'ALREADY_LOADED' | 'VERSION_GONE';
  /** A failed file's code: what failed it (ChuteError's), CLICKHOUSE_FAILED for an unexpected error. */
  errorCode?: ChuteErrorCode;
}

export interface Progress {
  readonly bytes: number;
  readonly bytesDecompressed: number;
  readonly rowsInserted: number;
  readonly rowsRejected: number;
  readonly chunks: number;
  readonly elapsedMs: number;
}

/** A file's summary before anything is known of it but where it is: loaded, with nothing counted yet. */
export function emptySummary(
  ref: Pick<ObjectRef, 'bucket' | 'key' | 'versionId' | 'eTag'>,
  route: string | undefined,
  table: string | undefined,
): FileSummary {
  return {
    status: 'loaded',
    bucket: ref.bucket,
    key: ref.key,
    versionId: ref.versionId,
    eTag: ref.eTag,
    route,
    table,
    delivery: undefined,
    attempt: 1,
    bytes: 0,
    bytesDecompressed: 0,
    rowsRead: 0,
    rowsInserted: 0,
    rowsRejected: 0,
    blankLines: 0,
    chunks: 0,
    chunksResumed: 0,
    inserts: 0,
    rejectsLocation: undefined,
    durationMs: 0,
  };
}
