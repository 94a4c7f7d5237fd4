import { matchRoute } from '../core/config/routes.ts';
import type { ChuteConfig } from '../core/config/schema.ts';
import { ChuteError, type ChuteErrorCode } from '../core/errors.ts';
import { type IngestDependencies, ingestObject } from '../core/pipeline/ingest-object.ts';
import type { FileSummary } from '../core/pipeline/summary.ts';
import { objectLabel } from '../core/ports/object-store.ts';
import type { Reporter } from './reporting.ts';
import { type DecodedEvent, decodeS3Event } from './s3-event.ts';

export interface EventContext {
  /** Lambda's `context.getRemainingTimeInMillis`, when there is one. */
  remainingTimeMs?: (() => number) | undefined;
}

/**
 * What the handler does with one event, apart from where its dependencies come from: every record is
 * routed and loaded in turn; a record no route takes is logged and skipped; if any file failed the whole
 * invocation fails afterwards, so that Lambda retries it (files already loaded deduplicate).
 */
export async function processS3Event(
  event: Parameters<typeof decodeS3Event>[0],
  config: ChuteConfig,
  deps: IngestDependencies,
  reporter: Reporter,
  context: EventContext = {},
): Promise<FileSummary[]> {
  const decoded: DecodedEvent = decodeS3Event(event);
  const summaries: FileSummary[] = [];
  try {
    for (const name of decoded.ignored) reporter.unrouted('', '', `event ${name} is not an object creation`);
    for (const ref of decoded.objects) {
      if (ref.key.startsWith(config.rejects.prefix)) {
        reporter.unrouted(ref.bucket, ref.key, `under the rejects prefix "${config.rejects.prefix}"`);
        continue;
      }
      const route = matchRoute(config.routes, ref.key);
      if (route === undefined) {
        reporter.unrouted(ref.bucket, ref.key, 'no route matches the key');
        continue;
      }
      const summary = await ingestObject(deps, route, ref, { remainingTimeMs: context.remainingTimeMs });
      reporter.file(summary, ref.eventTime);
      summaries.push(summary);
    }
  } finally {
    reporter.flush();
  }
  const failure = invocationFailure(summaries);
  if (failure !== undefined) throw failure;
  return summaries;
}

/**
 * The error that fails the invocation when any file failed, so that Lambda retries the event. Its code is the
 * first failed file's (an alarm or a test can tell a timeout from a schema change), or CLICKHOUSE_AUTH when
 * ClickHouse refused the credentials for any file (the handler then builds its clients afresh); its message
 * names every failed file with its own code and reason.
 */
export function invocationFailure(summaries: readonly FileSummary[]): ChuteError | undefined {
  const failed = summaries.filter((summary) => summary.status === 'failed');
  const first = failed[0];
  if (first === undefined) return undefined;
  const codeOf = (summary: FileSummary): ChuteErrorCode => summary.errorCode ?? 'CLICKHOUSE_FAILED';
  const detail = failed.map((s) => `${objectLabel(s.bucket, s.key)} (${codeOf(s)}): ${s.reason}`).join('; ');
  const refused = failed.some((s) => s.errorCode === 'CLICKHOUSE_AUTH');
  return new ChuteError(
    refused ? 'CLICKHOUSE_AUTH' : codeOf(first),
    `${failed.length} of ${summaries.length} file(s) failed, the event will be retried: ${detail}`,
  );
}
