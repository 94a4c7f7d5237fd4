import { Duration } from 'aws-cdk-lib';
import { ComparisonOperator, type Dashboard, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  type AlarmWithAnnotation,
  type CustomMetricWithAlarm,
  DashboardRenderingPreference,
  DefaultDashboardFactory,
  type MetricWithAlarmSupport,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { ChuteError } from '../functions/core/errors.ts';
import { METRICS_NAMESPACE, MetricName } from '../functions/core/metric-names.ts';

/** Thresholds of chute's alarms. Each has a runbook entry in README.md ("Alarm runbook"). */
export interface ChuteAlarmOptions {
  /**
   * Ingest lag alarm: the longest time from an object's S3 event to the end of its load, in a 5-minute
   * window, above this.
   * @default Duration.minutes(30) (a 15-minute load plus a retry, with room to spare)
   */
  readonly ingestLagThreshold?: Duration;
  /**
   * Duration alarm: p99 of the function's duration in 15 minutes above this percentage of its timeout.
   * @default 80
   */
  readonly durationPercentOfTimeout?: number;
  /**
   * Memory alarm: the most memory one invocation used, in 5 minutes, above this percentage of the
   * function's memory size.
   * @default 90
   */
  readonly memoryPercentOfLimit?: number;
  /**
   * Throttles alarm: throttling sustained this long. Short bursts are the reserved concurrency doing its job
   * (throttled events wait in Lambda's queue), so only a backlog that does not drain alarms.
   * @default Duration.minutes(30)
   */
  readonly sustainedThrottling?: Duration;
  /**
   * Failure queue age alarm: the oldest failed event older than this. Messages are deleted after 14 days.
   * @default Duration.days(1)
   */
  readonly failureQueueMaxAge?: Duration;
  /**
   * Rejected rows alarm: more rejected rows than this in 5 minutes.
   * @default 0 (any rejected row)
   */
  readonly maxRejectedRows?: number;
  /**
   * No-files alarm, for a feed that should be steady: no file loaded for this long (whole hours, 1 to 168).
   * @default - no such alarm
   */
  readonly noFilesLoadedFor?: Duration;
  /**
   * Link to the alarm runbook, added to every alarm's description.
   * @default - the descriptions point to README.md "Alarm runbook"
   */
  readonly runbookUrl?: string;
}

export interface IngestMonitoringProps extends ChuteAlarmOptions {
  /** The function to watch. */
  readonly ingestFunction: IFunction;
  /** The `service` dimension of the function's own metrics (its POWERTOOLS_SERVICE_NAME). */
  readonly service: string;
  /** Its log group: the memory metric filter reads the platform's REPORT lines there. */
  readonly logGroup: ILogGroup;
  /** Its memory size in MB (the memory alarm's threshold is a share of it). */
  readonly memorySizeMb: number;
  /** Its timeout (the duration alarm's threshold is a share of it). */
  readonly timeout: Duration;
  /** The on-failure destination queue. */
  readonly failureQueue: IQueue;
  /** Where alarms (and their recovery) are sent. */
  readonly alarmTopic: ITopic;
  /** Prefix of alarm names and the dashboard's name; unique in the account and region. */
  readonly namePrefix: string;
}

/** The defaults of {@link ChuteAlarmOptions}, in one place for the construct, the docs and the tests. */
export const DEFAULT_ALARM_OPTIONS = {
  ingestLagThreshold: Duration.minutes(30),
  durationPercentOfTimeout: 80,
  memoryPercentOfLimit: 90,
  sustainedThrottling: Duration.minutes(30),
  failureQueueMaxAge: Duration.days(1),
  maxRejectedRows: 0,
} as const;

const FIVE_MINUTES = Duration.minutes(5);

/**
 * The space-delimited layout of the Lambda platform's text REPORT line:
 * `REPORT RequestId: <id> Duration: <n> ms Billed Duration: <n> ms Memory Size: <n> MB Max Memory Used: <n> MB ...`
 */
export const REPORT_LINE_PATTERN = FilterPattern.spaceDelimited(
  'report',
  'requestIdLabel',
  'requestId',
  'durationLabel',
  'duration',
  'durationUnit',
  'billedLabel',
  'billedDurationLabel',
  'billedDuration',
  'billedUnit',
  'memoryLabel',
  'sizeLabel',
  'memorySize',
  'memorySizeUnit',
  'maxLabel',
  'maxMemoryLabel',
  'usedLabel',
  'maxMemoryUsed',
  'maxMemoryUsedUnit',
  '...',
)
  .whereString('report', '=', 'REPORT')
  .whereString('maxLabel', '=', 'Max')
  .whereString('usedLabel', '=', 'Used:');

function check(condition: boolean, message: string): void {
  if (!condition) throw new ChuteError('CONFIG_INVALID', `Invalid ChuteIngest props: alarms.${message}`);
}

/**
 * chute's alarms and dashboard, built with cdk-monitoring-constructs' MonitoringFacade: each monitored
 * part (the per-file figures the function publishes as EMF, the Lambda function, its asynchronous
 * invocations, its memory, the failure queue) is one dashboard segment with its alarms drawn on its graphs.
 * Every alarm notifies the SNS topic when it fires and when it recovers.
 */
export class IngestMonitoring extends Construct {
  readonly facade: MonitoringFacade;
  readonly dashboard: Dashboard;
  /** Metric filter turning the REPORT line's "Max Memory Used" into a metric. */
  readonly memoryMetricFilter: MetricFilter;

  constructor(scope: Construct, id: string, props: IngestMonitoringProps) {
    super(scope, id);
    const options = {
      ...DEFAULT_ALARM_OPTIONS,
      ...definedOnly({
        ingestLagThreshold: props.ingestLagThreshold,
        durationPercentOfTimeout: props.durationPercentOfTimeout,
        memoryPercentOfLimit: props.memoryPercentOfLimit,
        sustainedThrottling: props.sustainedThrottling,
        failureQueueMaxAge: props.failureQueueMaxAge,
        maxRejectedRows: props.maxRejectedRows,
      }),
      noFilesLoadedFor: props.noFilesLoadedFor,
    };
    validateAlarmOptions(options);
    const runbook = props.runbookUrl ?? 'README.md, "Alarm runbook"';
    const describe = (what: string, todo: string) => `${what} Do: ${todo} Runbook: ${runbook}`;
    const fn = props.ingestFunction;

    const dashboardFactory = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: props.namePrefix,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      renderingPreference: DashboardRenderingPreference.INTERACTIVE_ONLY,
    });
    const action = new SnsAlarmActionStrategy({
      onAlarmTopic: props.alarmTopic,
      onOkTopic: props.alarmTopic,
    });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.namePrefix,
        actionsEnabled: true,
        action,
        datapointsToAlarm: 1,
        evaluationPeriods: 1,
      },
      metricFactoryDefaults: { period: FIVE_MINUTES },
      dashboardFactory,
    });

    // Per-file figures, published by the function as EMF (namespace Chute, dimension service=<its name>).
    const chute = (metricName: string, statistic: string, label: string): Metric =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.service },
        statistic,
        period: FIVE_MINUTES,
        label,
      });
    const alarm = (
      metric: MetricWithAlarmSupport,
      alarmFriendlyName: string,
      threshold: number,
      description: string,
      extra: Partial<{
        comparisonOperator: ComparisonOperator;
        treatMissingData: TreatMissingData;
        datapointsToAlarm: number;
        evaluationPeriods: number;
        period: Duration;
      }> = {},
    ): CustomMetricWithAlarm => ({
      metric,
      alarmFriendlyName,
      addAlarm: {
        Critical: {
          threshold,
          comparisonOperator: extra.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingDataOverride: extra.treatMissingData ?? TreatMissingData.NOT_BREACHING,
          alarmDescriptionOverride: description,
          ...(extra.datapointsToAlarm === undefined ? {} : { datapointsToAlarm: extra.datapointsToAlarm }),
          ...(extra.evaluationPeriods === undefined ? {} : { evaluationPeriods: extra.evaluationPeriods }),
          ...(extra.period === undefined ? {} : { period: extra.period }),
        },
      },
    });

    const filesLoaded = chute(MetricName.FilesLoaded, 'Sum', 'Files loaded');
    const noFiles =
      options.noFilesLoadedFor === undefined
        ? []
        : [
            alarm(
              chute(MetricName.FilesLoaded, 'Sum', 'Files loaded (hourly)').with({
                period: Duration.hours(1),
              }),
              'NoFilesLoaded',
              1,
              describe(
                `No file was loaded in the last ${options.noFilesLoadedFor.toHours()} hours on a feed that should be steady.`,
                'check the producer is still writing to the bucket, then the function errors and failure queue alarms.',
              ),
              {
                comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
                treatMissingData: TreatMissingData.BREACHING,
                period: Duration.hours(1),
                datapointsToAlarm: options.noFilesLoadedFor.toHours(),
                evaluationPeriods: options.noFilesLoadedFor.toHours(),
              },
            ),
          ];

    this.facade.addLargeHeader('chute: files dropped into S3, loaded into ClickHouse');
    this.facade.monitorCustom({
      alarmFriendlyName: 'Files',
      humanReadableName: 'Per-file figures (EMF from the function)',
      metricGroups: [
        {
          title: 'Files',
          metrics: [
            noFiles[0] ?? filesLoaded,
            alarm(
              chute(MetricName.FilesFailed, 'Sum', 'Files failed'),
              'FilesFailed',
              0,
              describe(
                'A file failed to load (the function gave up on it: schema mismatch, too many rejected rows, ClickHouse refused it).',
                'read the function log for the ChuteError code and key; fix the file or the table, then re-drop the file or replay it from the failure queue.',
              ),
            ),
            chute(MetricName.FilesSkipped, 'Sum', 'Files skipped (already loaded, or gone)'),
            alarm(
              chute(MetricName.FilesGone, 'Sum', 'Files gone before their load'),
              'FilesGone',
              0,
              describe(
                'An object version was gone when its event was handled (in a bucket without versioning: overwritten or deleted first; in a versioned one: that version deleted), so its rows were not loaded (beyond chunks an earlier attempt committed), and nothing will load them.',
                "find the key in the function log ('file skipped' with skipCode VERSION_GONE); ask its producer for the lost data, or turn on versioning for the bucket so that every version stays readable until it is loaded.",
              ),
            ),
          ],
        },
        {
          title: 'Rows',
          metrics: [
            chute(MetricName.RowsInserted, 'Sum', 'Rows inserted'),
            alarm(
              chute(MetricName.RowsRejected, 'Sum', 'Rows rejected'),
              'RowsRejected',
              options.maxRejectedRows,
              describe(
                `More than ${options.maxRejectedRows} rows were rejected in 5 minutes: rows that did not parse or fit the table went to the rejects prefix instead of ClickHouse.`,
                'open the rejects objects (one per source object, with the line and reason of each row), fix the producer or the table, and re-drop the corrected rows.',
              ),
            ),
          ],
        },
        {
          title: 'Bytes read',
          metrics: [chute(MetricName.BytesRead, 'Sum', 'Bytes read')],
        },
        {
          title: 'Ingest lag and load time',
          metrics: [
            alarm(
              chute(MetricName.IngestLagSeconds, 'Maximum', 'Ingest lag, max (s)'),
              'IngestLag',
              options.ingestLagThreshold.toSeconds(),
              describe(
                `A file reached ClickHouse more than ${options.ingestLagThreshold.toHumanString()} after it landed in S3.`,
                'look at throttles (a backlog behind the reserved concurrency), async event age, errors (retries) and duration; raise reservedConcurrency if ClickHouse has room.',
              ),
            ),
            chute(MetricName.FileDurationMs, 'Maximum', 'File load time, max (ms)'),
          ],
        },
      ],
    });

    this.facade.monitorLambdaFunction({
      lambdaFunction: fn,
      isIterator: false,
      alarmFriendlyName: 'Function',
      humanReadableName: 'Ingest function',
      addFaultCountAlarm: {
        Critical: {
          maxErrorCount: 0,
          alarmDescriptionOverride: describe(
            'The function failed an invocation (Errors > 0 in 5 minutes). Lambda retries it; after the retries the event goes to the failure queue.',
            'read the function log for the error; if it is ClickHouse or the network, check ClickHouse; if it repeats for one key, see the failure queue alarm.',
          ),
        },
      },
      addThrottlesCountAlarm: {
        Warning: {
          maxErrorCount: 0,
          datapointsToAlarm: Math.round(options.sustainedThrottling.toMinutes() / 5),
          evaluationPeriods: Math.round(options.sustainedThrottling.toMinutes() / 5),
          alarmDescriptionOverride: describe(
            `Invocations were throttled in every 5 minutes for ${options.sustainedThrottling.toHumanString()}: more files arrive than the reserved concurrency loads, and a backlog builds in Lambda's queue (events older than the maximum event age go to the failure queue).`,
            'if ClickHouse has headroom, raise reservedConcurrency; otherwise expect the backlog to drain and watch the ingest lag.',
          ),
        },
      },
      addLatencyP99Alarm: {
        Warning: {
          maxLatency: Duration.millis(
            Math.floor((props.timeout.toMilliseconds() * options.durationPercentOfTimeout) / 100),
          ),
          period: Duration.minutes(15),
          alarmDescriptionOverride: describe(
            `p99 duration in 15 minutes is above ${options.durationPercentOfTimeout}% of the ${props.timeout.toHumanString()} timeout: the largest files are close to timing out (a timeout fails and retries the whole file).`,
            'raise memorySize (more CPU and network), split large files upstream, or check ClickHouse insert latency.',
          ),
        },
      },
    });

    const asyncMetric = (metricName: string, statistic: string, label: string) =>
      fn.metric(metricName, { statistic, period: FIVE_MINUTES, label });
    this.facade.monitorCustom({
      alarmFriendlyName: 'Async',
      humanReadableName: 'Asynchronous invocations (S3 events waiting for the function)',
      metricGroups: [
        {
          title: 'Events dropped and lost',
          metrics: [
            alarm(
              asyncMetric('AsyncEventsDropped', 'Sum', 'Events dropped'),
              'AsyncEventsDropped',
              0,
              describe(
                'S3 events were dropped after their retries or maximum event age; each went to the failure queue.',
                'see the failure queue alarm: every dropped event is a file not loaded.',
              ),
            ),
            alarm(
              asyncMetric('DestinationDeliveryFailures', 'Sum', 'Failure queue deliveries failed'),
              'DestinationDeliveryFailures',
              0,
              describe(
                'Lambda could not deliver a failed event to the failure queue: that event is lost.',
                "check the function role may sqs:SendMessage (and use the queue's KMS key); list the bucket for keys missing in ClickHouse and re-drop them.",
              ),
            ),
          ],
        },
        {
          title: 'Event age (time in the queue before processing)',
          metrics: [asyncMetric('AsyncEventAge', 'Maximum', 'Async event age, max (ms)')],
        },
      ],
    });

    this.memoryMetricFilter = new MetricFilter(this, 'MaxMemoryUsed', {
      logGroup: props.logGroup,
      filterPattern: REPORT_LINE_PATTERN,
      metricNamespace: `${METRICS_NAMESPACE}/Lambda`,
      metricName: `MaxMemoryUsedMB-${props.namePrefix}`.slice(0, 255),
      metricValue: '$maxMemoryUsed',
    });
    const memoryThreshold = Math.floor((props.memorySizeMb * options.memoryPercentOfLimit) / 100);
    this.facade.monitorCustom({
      alarmFriendlyName: 'Memory',
      humanReadableName: `Memory (limit ${props.memorySizeMb} MB)`,
      metricGroups: [
        {
          title: 'Max memory used (MB)',
          metrics: [
            alarm(
              this.memoryMetricFilter.metric({
                statistic: 'Maximum',
                period: FIVE_MINUTES,
                label: 'Max memory used (MB)',
              }),
              'MemoryNearLimit',
              memoryThreshold,
              describe(
                `An invocation used more than ${options.memoryPercentOfLimit}% (${memoryThreshold} MB) of the ${props.memorySizeMb} MB memory size; at the limit Lambda kills it.`,
                'raise memorySize, or lower chunking.maxBytes / maxRecordBytes; a sudden rise can mean a runaway quoted field.',
              ),
            ),
          ],
        },
      ],
    });

    this.facade.monitorSqsQueue({
      queue: props.failureQueue,
      alarmFriendlyName: 'FailureQueue',
      humanReadableName: 'Failure queue (events the function could not process)',
      addQueueMaxSizeAlarm: {
        Critical: {
          maxMessageCount: 0,
          alarmDescriptionOverride: describe(
            'The failure queue holds events: each is an S3 object that was not loaded after all retries (the message carries the event and the error).',
            "read the message (condition, error), fix the cause, then re-drop the object or invoke the function with the message's requestPayload; delete the message when done.",
          ),
        },
      },
      addQueueMaxMessageAgeAlarm: {
        Warning: {
          maxAgeInSeconds: options.failureQueueMaxAge.toSeconds(),
          alarmDescriptionOverride: describe(
            `A failed event has waited more than ${options.failureQueueMaxAge.toHumanString()} in the failure queue; it is deleted, and the file forgotten, after 14 days.`,
            'handle the failure queue now (see the failure queue depth alarm).',
          ),
        },
      },
    });

    const dashboard = dashboardFactory.dashboard;
    if (dashboard === undefined) throw new Error('cdk-monitoring-constructs created no dashboard');
    this.dashboard = dashboard;
  }

  /** Every alarm created, with its cdk-monitoring-constructs annotation. */
  get alarms(): AlarmWithAnnotation[] {
    return this.facade.createdAlarms();
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateAlarmOptions(
  options: Required<Omit<ChuteAlarmOptions, 'noFilesLoadedFor' | 'runbookUrl'>> & ChuteAlarmOptions,
): void {
  check(
    options.durationPercentOfTimeout > 0 && options.durationPercentOfTimeout < 100,
    `durationPercentOfTimeout ${options.durationPercentOfTimeout} must be between 0 and 100 (exclusive)`,
  );
  check(
    options.memoryPercentOfLimit > 0 && options.memoryPercentOfLimit < 100,
    `memoryPercentOfLimit ${options.memoryPercentOfLimit} must be between 0 and 100 (exclusive)`,
  );
  check(
    Number.isInteger(options.maxRejectedRows) && options.maxRejectedRows >= 0,
    `maxRejectedRows ${options.maxRejectedRows} must be a whole number >= 0`,
  );
  const throttleMinutes = options.sustainedThrottling.toMinutes({ integral: false });
  check(
    throttleMinutes >= 5 && throttleMinutes <= 24 * 60 && throttleMinutes % 5 === 0,
    `sustainedThrottling ${options.sustainedThrottling.toHumanString()} must be a multiple of 5 minutes, from 5 minutes to 1 day`,
  );
  const ageSeconds = options.failureQueueMaxAge.toSeconds({ integral: false });
  check(
    ageSeconds >= 60 && ageSeconds < 14 * 24 * 3600,
    `failureQueueMaxAge ${options.failureQueueMaxAge.toHumanString()} must be from 1 minute to less than the queue's 14-day retention`,
  );
  check(
    options.ingestLagThreshold.toSeconds({ integral: false }) >= 60,
    `ingestLagThreshold ${options.ingestLagThreshold.toHumanString()} must be at least 1 minute`,
  );
  if (options.noFilesLoadedFor !== undefined) {
    const hours = options.noFilesLoadedFor.toHours({ integral: false });
    check(
      Number.isInteger(hours) && hours >= 1 && hours <= 168,
      `noFilesLoadedFor ${options.noFilesLoadedFor.toHumanString()} must be whole hours from 1 to 168 (CloudWatch evaluates at most 7 days)`,
    );
  }
}
