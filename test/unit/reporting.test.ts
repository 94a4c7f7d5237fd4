import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { MetricName } from '../../functions/core/metric-names.ts';
import { emptySummary, type FileSummary } from '../../functions/core/pipeline/summary.ts';
import { powertoolsReporter } from '../../functions/ingest/reporting.ts';

function skipped(skipCode: FileSummary['skipCode']): FileSummary {
  const where = { bucket: 'b', key: 'in/a.csv', versionId: undefined, eTag: undefined };
  return { ...emptySummary(where, 'in/', 'default.events'), status: 'skipped', skipCode };
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
