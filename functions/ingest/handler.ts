import type { Context, S3Event } from 'aws-lambda';
import { isChuteError } from '../core/errors.ts';
import type { FileSummary } from '../core/pipeline/summary.ts';
import { forgetContainer, getContainer, logger } from './dependencies.ts';
import { processS3Event } from './process-event.ts';

// In Lambda, the container is built during the function's init, not by the first event: a bad configuration
// or secret then fails the init, loudly, before any event is taken, and the clients are made while init runs.
// (A failed init is run again by the next invocation; elsewhere, importing the handler builds nothing.)
if (process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined) await getContainer();

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
  }).catch(async (error: unknown) => {
    // ClickHouse refused the credentials: perhaps rotated since this container read the secret. This
    // container's next invocation (perhaps Lambda's retry of this event) builds its clients afresh, with the
    // secret read again.
    if (isChuteError(error, 'CLICKHOUSE_AUTH')) {
      logger.warn('ClickHouse refused the credentials: the next invocation reads the secret again');
      await forgetContainer();
    }
    throw error;
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
