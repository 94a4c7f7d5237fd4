import type { RejectedRow } from './object-store.ts';

export type LoadStatus = 'loaded' | 'failed' | 'skipped' | 'rejected-file';
export type Delivery = 'exactly-once' | 'at-least-once';

/** One object version: the key of the load history. */
export interface VersionKey {
  readonly bucket: string;
  readonly key: string;
  /** Version id, else the ETag, else 'unversioned'. */
  readonly version: string;
}

/** One row of the load history: one attempt at one object version. */
export interface LedgerEntry extends VersionKey {
  readonly size: number;
  readonly route: string;
  readonly table: string;
  readonly status: LoadStatus;
  readonly rowsInserted: number;
  readonly rowsRejected: number;
  readonly rejectsLocation: string;
  readonly attempt: number;
  readonly started: Date;
  readonly finished: Date;
  readonly error: string;
  readonly delivery: Delivery;
}

/** A chunk whose rows are committed, with the rows it rejected, so that a retry can skip it. */
export interface CommittedChunk {
  readonly chunk: number;
  readonly rowsInserted: number;
  readonly rejected: readonly RejectedRow[];
  /**
   * The rules the object was cut by (format, chunk limits, header repetition, scanner version): chunk N is
   * the same rows on a retry only under the same rules. Empty for records written before chute kept it.
   */
  readonly cut: string;
}

export interface PriorAttempts {
  readonly attempts: number;
  readonly loaded: boolean;
  /** Chunks earlier attempts committed (a killed attempt leaves these and no history row). */
  readonly committed: ReadonlyMap<number, CommittedChunk>;
}

/**
 * The load history, kept in ClickHouse beside the data: what makes a duplicate event cost one query, and what
 * lets a retry resume after the chunks an earlier attempt committed.
 */
export interface Ledger {
  /** Earlier attempts and the chunks they committed, in one query (two more alongside it while an upgraded history keeps its old tables): all a duplicate event costs. */
  prior(version: VersionKey): Promise<PriorAttempts>;
  recordChunk(version: VersionKey, chunk: CommittedChunk): Promise<void>;
  record(entry: LedgerEntry): Promise<void>;
}
