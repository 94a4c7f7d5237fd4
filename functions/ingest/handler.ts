import type { Context, S3Event } from 'aws-lambda';
import type { FileSummary } from '../core/pipeline/summary.ts';
import { getContainer } from './dependencies.ts';
import { processS3Event } from './process-event.ts';

/**
 * The Lambda entry point, kept thin: get the container's clients, load every record of the event, report.
 * A failed file fails the invocation so that Lambda retries it, and then hands it to the failure queue.
 */
export async function handler(
  event: S3Event,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<{
  files: Pick<FileSummary, 'bucket' | 'key' | 'status' | 'rowsInserted' | 'rowsRejected'>[];
}> {
  const { config, deps, reporter } = await getContainer();
  const summaries = await processS3Event(event, config, deps, reporter, {
    remainingTimeMs: context ? () => context.getRemainingTimeInMillis() : undefined,
  });
  return {
    files: summaries.map(({ bucket, key, status, rowsInserted, rowsRejected }) => ({
      bucket,
      key,
      status,
      rowsInserted,
      rowsRejected,
    })),
  };
}
