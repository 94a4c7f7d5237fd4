import type { S3Event } from 'aws-lambda';
import type { ChuteConfigInput } from '../functions/core/config/schema.ts';
import { type HandlerRun, runHandlerProcess } from '../test/fixtures/run-handler.ts';
import type { BenchEnv } from './env.ts';

/** The fields of the handler's one-line file summary that the bench reads. */
export interface FileLine {
  message: string;
  key: string;
  status: string;
  bytes: number;
  bytesDecompressed: number;
  rowsRead: number;
  rowsInserted: number;
  rowsRejected: number;
  durationMs: number;
  rejectsLocation?: string;
  reason?: string;
}

export interface ChuteRun {
  /** Wall time of the invocations, measured around each handler call in the function's own process. */
  wallMs: number;
  peakRssBytes: number;
  cpuMs: number;
  files: FileLine[];
  run: HandlerRun;
}

const FILE_MESSAGES = new Set(['file loaded', 'file failed', 'file skipped']);

/**
 * chute's full path: the real handler, bundled as Lambda runs it, in a fresh process (a cold container),
 * invoked once per event in order (a warm container from the second on), reading from the local S3 server
 * and writing into ClickHouse.
 */
export async function runChute(
  env: BenchEnv,
  options: {
    events: S3Event[];
    config: Omit<ChuteConfigInput, 'clickhouse'>;
    timeoutMs: number;
    sampleSockets?: boolean;
  },
): Promise<ChuteRun> {
  const run = await runHandlerProcess({
    events: options.events,
    config: options.config,
    clickhouseUrl: env.clickhouse.url,
    s3Endpoint: env.s3.endpoint,
    timeoutMs: options.timeoutMs,
    ...(options.sampleSockets ? { env: { CHUTE_SAMPLE_SOCKETS: '1' } } : {}),
  });
  const files = run.logs
    .filter((line) => typeof line.message === 'string' && FILE_MESSAGES.has(line.message))
    .map((line) => line as unknown as FileLine);
  return {
    wallMs: run.durationsMs.reduce((sum, ms) => sum + ms, 0),
    peakRssBytes: run.peakRssBytes,
    cpuMs: run.cpuMs.user + run.cpuMs.system,
    files,
    run,
  };
}

/** A route for one scenario: bad rows go to rejects however many there are (the bench counts them). */
export function benchRoute(prefix: string, table: string, format: 'csv' | 'ndjson') {
  return {
    prefix,
    table,
    format,
    badRows: { policy: 'reject' as const, maxRejectedRows: 10_000_000 },
  };
}
