/** What the bench and its chDB child (`chdb-process.ts`) say to each other over the IPC channel. */
import type { S3Event } from 'aws-lambda';
import type { RouteInput } from '../functions/core/config/schema.ts';
import type { FileSummary } from '../functions/core/pipeline/summary.ts';

export type ChdbCommand =
  | { op: 'reset'; table: string; columns: string }
  | { op: 'drop'; table: string }
  | { op: 'chute'; events: S3Event[]; route: RouteInput }
  | { op: 'ceiling'; table: string; format: string; files: string[] }
  | { op: 'count'; table: string }
  | { op: 'version' };

/** One measured load: wall and CPU of the child (chDB's threads included), and its peak RSS meanwhile. */
export interface ChdbRun {
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  summaries: FileSummary[];
  errors: string[];
}

/** id 0 is the child's "ready", sent once chDB is open. */
export type ChdbReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The environment variables the bench hands the child. */
export const CHDB_ENV = {
  /** The bench's s3rver. */
  s3Endpoint: 'CHUTE_BENCH_S3_ENDPOINT',
  /** chDB's data directory, made and removed by the bench (the child may be killed). */
  dataDir: 'CHUTE_BENCH_CHDB_DIR',
} as const;
