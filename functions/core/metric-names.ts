/**
 * CloudWatch names shared by the function (which publishes them as EMF) and the CDK stack (which alarms on
 * them and draws them). Change a name here and both sides follow.
 */
export const METRICS_NAMESPACE = 'Chute';
export const METRICS_SERVICE = 'chute';

export const MetricName = {
  FilesLoaded: 'FilesLoaded',
  FilesFailed: 'FilesFailed',
  FilesSkipped: 'FilesSkipped',
  BytesRead: 'BytesRead',
  RowsInserted: 'RowsInserted',
  RowsRejected: 'RowsRejected',
  /** Seconds from the S3 event time to the end of the load. */
  IngestLagSeconds: 'IngestLagSeconds',
  FileDurationMs: 'FileDurationMs',
} as const;
