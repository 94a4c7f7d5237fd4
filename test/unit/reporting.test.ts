import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { MetricName } from '../../functions/core/metric-names.ts';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import { powertoolsReporter } from '../../functions/ingest/reporting.ts';

function skipped(skipCode: FileSummary['skipCode']): FileSummary {
  return {
    status: 'skipped',
    bucket: 'b',
    key: 'in/a.csv',
    versionId: undefined,
    eTag: undefined,
    route: 'in/',
    table: 'default.events',
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
    durationMs: 3,
    skipCode,
  };
}

/** The metrics one file's report stores, by name, as the EMF line would carry them. */
function reported(summary: FileSummary): Record<string, unknown> {
  const metrics = new Metrics({ namespace: 'Test', serviceName: 'test' });
  powertoolsReporter(new Logger({ logLevel: 'SILENT' }), metrics).file(summary, undefined);
  const emf = metrics.serializeMetrics();
  const names = emf._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name) ?? [];
  return Object.fromEntries(names.map((name) => [name, emf[name]]));
}

describe('the per-file metrics', () => {
  it('counts a version gone before its load apart from a duplicate, so that it can alarm', () => {
    expect(reported(skipped('VERSION_GONE'))).toEqual({
      [MetricName.FilesSkipped]: 1,
      [MetricName.FilesGone]: 1,
    });
    expect(reported(skipped('ALREADY_LOADED'))).toEqual({ [MetricName.FilesSkipped]: 1 });
  });
});
