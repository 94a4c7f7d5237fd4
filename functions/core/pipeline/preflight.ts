import { clickHouseErrorCode } from '../clickhouse/error-code.ts';
import { type TableRef, tableLabel } from '../clickhouse/sql.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import type { Delivery } from '../ports/ledger.ts';
import type { ServerCapabilities, TableColumn, Warehouse } from '../ports/warehouse.ts';
import type { IngestOptions } from './ingest-object.ts';

/** The table's columns, or an error that says the table is missing. */
export async function describe(
  warehouse: Warehouse,
  table: TableRef,
  where: string,
): Promise<readonly TableColumn[]> {
  try {
    return await warehouse.describeTable(table);
  } catch (error) {
    const code = clickHouseErrorCode(error);
    if (error instanceof Error && (code === '60' || code === '81')) {
      throw new ChuteError(
        'SCHEMA_MISMATCH',
        `${where}: table ${tableLabel(table)} does not exist (${error.message.split('\n')[0]}); create it or fix the route's table`,
        { cause: error },
      );
    }
    throw new ChuteError('CLICKHOUSE_FAILED', `${where}: cannot describe table ${tableLabel(table)}`, {
      cause: error,
    });
  }
}

/** Lambda's clock: a chunk is not started without time to finish it. Returns the time left, when known. */
/** No chunk starts with less time left than this: what one chunk's insert and its records may take. */
export const DEFAULT_HEADROOM_MS = 30_000;

export function checkHeadroom(options: IngestOptions, where: string, chunkIndex: number): number | undefined {
  const remaining = options.remainingTimeMs?.();
  const headroom = options.headroomMs ?? DEFAULT_HEADROOM_MS;
  if (remaining !== undefined && remaining < headroom) {
    throw new ChuteError(
      'TIMEOUT_HEADROOM',
      `${where}: stopped before chunk ${chunkIndex} with ${remaining} ms left (headroom ${headroom} ms); the retry resumes and committed chunks deduplicate`,
    );
  }
  return remaining;
}

/**
 * What a retry may send again with the tokens it sent before: the chunks in flight at a crash, and the one whose
 * record was still being written (README, "The load history"), plus one of margin. A window smaller than this
 * lets a retry load a chunk twice.
 */
export function minimumDedupWindow(chunking: Pick<ChunkingConfig, 'insertsInFlight'>): number {
  return chunking.insertsInFlight + 2;
}

export interface DeliveryDecision {
  readonly delivery: Delivery;
  /** Why delivery is only at-least-once, for every summary line. */
  readonly note: string | undefined;
}

/**
 * What this load can promise. Exactly-once needs deduplication tokens (ClickHouse 22.2+) and a table that
 * honours them; without tokens the ledger's chunk records still resume a retry, but a crash between a commit and
 * its record may repeat that chunk. A route that asks for exactly-once on a table that cannot is refused.
 */
export async function decideDelivery(
  warehouse: Warehouse,
  table: TableRef,
  route: Route,
  capabilities: ServerCapabilities,
  where: string,
  /** The fewest recent inserts the table must remember: what a retry may send again (see README). */
  minimumWindow: number,
): Promise<DeliveryDecision> {
  if (!capabilities.dedupToken) {
    return {
      delivery: 'at-least-once',
      note: `ClickHouse ${capabilities.version} has no insert_deduplication_token: a chunk committed just before a crash may load twice on retry`,
    };
  }
  const { window, engine } = await warehouse.deduplication(table);
  if (window >= minimumWindow) return { delivery: 'exactly-once', note: undefined };
  const what =
    window === 0
      ? 'does not deduplicate inserts'
      : `remembers only the last ${window} inserts' tokens, fewer than the ${minimumWindow} a retry may send again`;
  if (route.delivery === 'at-least-once') {
    return {
      delivery: 'at-least-once',
      note: `table ${tableLabel(table)} (${engine}) ${what}; the route chose at-least-once`,
    };
  }
  const setting = /^(Replicated|Shared)/.test(engine)
    ? 'replicated_deduplication_window'
    : 'non_replicated_deduplication_window';
  throw new ChuteError(
    'DEDUP_NOT_ENABLED',
    `${where}: table ${tableLabel(table)} (${engine}) ${what}, so a retry could load rows twice. Run: ALTER TABLE ${tableLabel(table)} MODIFY SETTING ${setting} = 1000${window === 0 && setting.startsWith('non') ? ' (or use a Replicated engine)' : ''}, or set the route's delivery to "at-least-once"`,
  );
}
