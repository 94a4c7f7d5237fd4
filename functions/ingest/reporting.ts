import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricName } from '../core/metric-names.ts';
import type { FileSummary } from '../core/pipeline/summary.ts';

export interface Reporter {
  file(summary: FileSummary, eventTime: string | undefined): void;
  unrouted(bucket: string, key: string, why: string): void;
  flush(): void;
}

/**
 * One structured log line per file, and the same figures as EMF metrics: CloudWatch turns the log line into
 * metrics, so the function makes no PutMetricData calls.
 */
export function powertoolsReporter(logger: Logger, metrics: Metrics): Reporter {
  return {
    file(summary, eventTime) {
      const { status } = summary;
      const line = { ...summary };
      if (status === 'failed') logger.error('file failed', line);
      else if (status === 'skipped') logger.warn('file skipped', line);
      else logger.info('file loaded', line);

      const counter =
        status === 'loaded'
          ? MetricName.FilesLoaded
          : status === 'failed'
            ? MetricName.FilesFailed
            : MetricName.FilesSkipped;
      metrics.addMetric(counter, MetricUnit.Count, 1);
      if (summary.skipCode === 'VERSION_GONE') metrics.addMetric(MetricName.FilesGone, MetricUnit.Count, 1);
      if (status === 'skipped') return;
      metrics.addMetric(MetricName.BytesRead, MetricUnit.Bytes, summary.bytes);
      metrics.addMetric(MetricName.RowsInserted, MetricUnit.Count, summary.rowsInserted);
      metrics.addMetric(MetricName.RowsRejected, MetricUnit.Count, summary.rowsRejected);
      metrics.addMetric(MetricName.FileDurationMs, MetricUnit.Milliseconds, summary.durationMs);
      const created = eventTime === undefined ? Number.NaN : Date.parse(eventTime);
      if (status === 'loaded' && Number.isFinite(created)) {
        metrics.addMetric(
          MetricName.IngestLagSeconds,
          MetricUnit.Seconds,
          Math.max(0, (Date.now() - created) / 1000),
        );
      }
    },
    unrouted(bucket, key, why) {
      logger.info('object skipped', { bucket, key, reason: why });
      metrics.addMetric(MetricName.FilesSkipped, MetricUnit.Count, 1);
    },
    flush() {
      metrics.publishStoredMetrics();
    },
  };
}
