import { describe, expect, it } from 'vitest';
import { emptySummary, type FileSummary } from '../../functions/core/pipeline/summary.ts';
import { invocationFailure } from '../../functions/ingest/process-event.ts';

function summary(
  key: string,
  status: FileSummary['status'],
  failure?: Pick<FileSummary, 'errorCode' | 'reason'>,
): FileSummary {
  const where = { bucket: 'b', key, versionId: undefined, eTag: undefined };
  return { ...emptySummary(where, 'in/', 'default.events'), status, ...failure };
}

describe('invocationFailure', () => {
  it('lets the invocation succeed when no file failed', () => {
    expect(invocationFailure([summary('a.csv', 'loaded'), summary('b.csv', 'skipped')])).toBeUndefined();
  });

  it("carries the failed file's own code, not a generic one, and names every failed file", () => {
    const error = invocationFailure([
      summary('a.csv', 'loaded'),
      summary('b.csv', 'failed', { errorCode: 'SCHEMA_MISMATCH', reason: 'column x is gone' }),
      summary('c.csv', 'failed', { errorCode: 'TIMEOUT_HEADROOM', reason: 'out of time' }),
    ]);
    expect(error?.code).toBe('SCHEMA_MISMATCH');
    expect(error?.message).toBe(
      '2 of 3 file(s) failed, the event will be retried: s3://b/b.csv (SCHEMA_MISMATCH): column x is gone; s3://b/c.csv (TIMEOUT_HEADROOM): out of time',
    );
  });

  it('says CLICKHOUSE_AUTH when ClickHouse refused the credentials for any file, so they are read again', () => {
    const error = invocationFailure([
      summary('a.csv', 'failed', { errorCode: 'SCHEMA_MISMATCH', reason: 'column x is gone' }),
      summary('b.csv', 'failed', { errorCode: 'CLICKHOUSE_AUTH', reason: 'Authentication failed' }),
    ]);
    expect(error?.code).toBe('CLICKHOUSE_AUTH');
  });

  it('says CLICKHOUSE_FAILED only for a file failed without a code', () => {
    expect(invocationFailure([summary('a.csv', 'failed', { reason: 'boom' })])?.code).toBe(
      'CLICKHOUSE_FAILED',
    );
  });
});
