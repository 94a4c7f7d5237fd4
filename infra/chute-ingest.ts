import { Annotations, Duration, FeatureFlags, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  EventType,
  type IBucket,
  type NotificationKeyFilter,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import type { AlarmWithAnnotation } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { ChunkingSchema, ChuteConfig, RouteInput } from '../functions/core/config/schema.ts';
import { ChuteError } from '../functions/core/errors.ts';
import { METRICS_NAMESPACE } from '../functions/core/metric-names.ts';
import { chunkBufferSize, mostChunkBuffers } from '../functions/core/pipeline/buffer-pool.ts';
import {
  DEFAULT_LOG_RETENTION,
  DEFAULT_MEMORY_MB,
  DEFAULT_RESERVED_CONCURRENCY,
  DEFAULT_TIMEOUT,
  IngestFunction,
} from './ingest-function.ts';
import { type ChuteAlarmOptions, IngestMonitoring } from './ingest-monitoring.ts';
import { acknowledgeChuteNagFindings } from './nag.ts';
import {
  checkEnvironmentSize,
  functionConfigJson,
  type IngestConfigInput,
  PROPS_SOURCE,
  validateIngestConfig,
} from './route-validation.ts';

export interface ChuteIngestProps {
  /**
   * ClickHouse HTTP(S) URL, such as `https://abc123.eu-west-1.aws.clickhouse.cloud:8443`.
   * Must not embed credentials (it is a plain environment variable): they go in `clickHouseSecret`.
   */
  readonly clickHouseUrl: string;
  /**
   * Database for unqualified table names.
   * @default - the database in the URL path, else `default`
   */
  readonly clickHouseDatabase?: string;
  /**
   * Secrets Manager secret holding `{"username": "...", "password": "..."}`. The function may read this
   * secret and no other; it reads it once per container.
   */
  readonly clickHouseSecret: ISecret;
  /**
   * Which keys load into which table, and how (see `RouteSchema` in functions/core/config/schema.ts).
   * Checked at synth time by the schema the function uses, and for filters S3 would refuse together.
   */
  readonly routes: RouteInput[];
  /**
   * Prefix rejected rows are written under. No route may match it (that would be a loop).
   * @default 'chute-rejects/'
   */
  readonly rejectsPrefix?: string;
  /**
   * How files are cut into inserts.
   * @default - 16 MiB or 500000 rows per insert, 1 MiB per record (the schema's defaults)
   */
  readonly chunking?: z.input<typeof ChunkingSchema>;
  /**
   * The load history in ClickHouse (`table` or `database.table`), created by the function on first use: the
   * table `<name>_log` and the views `<name>` and `<name>_chunks`. The function's ClickHouse user needs CREATE
   * TABLE and CREATE VIEW in its database, INSERT on `<name>_log` and SELECT on all three (and on the `_v1` tables an
   * upgrade from the older two-table layout keeps: README, "The load history").
   * @default 'chute_load_history'
   */
  readonly ledgerTable?: string;
  /**
   * Whether the function verifies each object it reads against the checksum S3 stored with it. Objects
   * uploaded without a checksum since December 2024 carry a CRC64-NVME one, which the AWS SDK computes in JavaScript: about half
   * the GET throughput of one stream on the bench machine (BENCHMARKS.md). HTTPS already protects the bytes
   * in transit; `false` gives up the end-to-end check against what S3 stored, for CPU.
   * @default - the SDK's default: verified
   */
  readonly verifyS3Checksums?: boolean;
  /**
   * An existing bucket to watch instead of creating one (for example `Bucket.fromBucketName(...)`; use
   * `Bucket.fromBucketAttributes` with `encryptionKey` if it is SSE-KMS). Its encryption, versioning, access
   * logs and lifecycle stay its owner's business; chute only adds notifications and the function's grants.
   * @default - a new bucket: public access blocked, SSL enforced, versioned, encrypted, logged, retained
   */
  readonly bucket?: IBucket;
  /**
   * Customer-managed KMS key for the new bucket, the failure queue and the alarm topic. Its key policy must
   * let CloudWatch use it (added automatically for a key defined in the same app).
   * @default - S3-managed (bucket) and SQS-managed (queue) encryption; the alarm topic unencrypted
   */
  readonly encryptionKey?: IKey;
  /**
   * Write S3 server access logs of the new bucket. Turning them off needs `serverAccessLogsDisabledReason`.
   * @default true
   */
  readonly serverAccessLogs?: boolean;
  /**
   * Why the new bucket has no server access logs (for example: CloudTrail data events already record
   * every request). Required with `serverAccessLogs: false`; recorded as the cdk-nag acknowledgement.
   * @default - none
   */
  readonly serverAccessLogsDisabledReason?: string;
  /**
   * Where server access logs go.
   * @default - a new bucket (S3-managed encryption, SSL enforced, logs expire after 90 days)
   */
  readonly accessLogsBucket?: IBucket;
  /**
   * How long rejects objects are kept (lifecycle rule on the rejects prefix of the new bucket).
   * @default Duration.days(30)
   */
  readonly rejectsRetention?: Duration;
  /**
   * How long overwritten or deleted object versions are kept in the new (versioned) bucket.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionRetention?: Duration;
  /**
   * Function memory in MB (also buys CPU and network).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Function timeout: longer than the slowest file takes to load.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency: at most this many files load at once, which protects ClickHouse.
   * @default 5
   */
  readonly reservedConcurrency?: number;
  /**
   * Node.js runtime, 22 or 24.
   * @default Runtime.NODEJS_24_X
   */
  readonly runtime?: Runtime;
  /**
   * Function log retention.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Retries of a failed asynchronous invocation (0 to 2).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long an S3 event may wait in Lambda's queue (throttled or retrying) before it goes to the failure
   * queue; 1 minute to 6 hours.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * An e-mail address subscribed to the alarm topic (the recipient must confirm the subscription).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * An existing topic for alarms.
   * @default - a new topic, SSL enforced (and encrypted with `encryptionKey` if given)
   */
  readonly alarmTopic?: ITopic;
  /**
   * Alarm thresholds.
   * @default - see ChuteAlarmOptions
   */
  readonly alarms?: ChuteAlarmOptions;
  /**
   * Prefix of the alarm names and the dashboard name: letters, digits, `-` and `_`, unique in the
   * account and region.
   * @default - `<stack name>-<construct id>`
   */
  readonly name?: string;
  /**
   * The Lambda handler file.
   * @default functions/ingest/handler.ts of this package
   */
  readonly entry?: string;
}

export const DEFAULT_REJECTS_RETENTION = Duration.days(30);
export const DEFAULT_NONCURRENT_VERSION_RETENTION = Duration.days(30);
export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAX_EVENT_AGE = Duration.hours(6);
export const ACCESS_LOGS_RETENTION = Duration.days(90);
export const FAILURE_QUEUE_RETENTION = Duration.days(14);

const NAME = /^[A-Za-z0-9_-]{1,200}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function fail(message: string): never {
  throw new ChuteError('CONFIG_INVALID', `Invalid ${PROPS_SOURCE}: ${message}`);
}

/**
 * chute in one construct: files dropped into an S3 bucket become rows in ClickHouse.
 *
 * Creates (or adopts) the bucket, the ingest function with one object-created notification per route,
 * least-privilege grants (read the routed prefixes, write the rejects prefix, read the one secret), an
 * encrypted on-failure queue so no event is dropped silently, alarms to an SNS topic, and a dashboard.
 * Every prop is checked in the constructor: a wrong route fails `cdk synth` with a message naming it.
 */
export class ChuteIngest extends Construct {
  /** The watched bucket. */
  readonly bucket: IBucket;
  /** Whether this construct created the bucket (and so owns its settings). */
  readonly ownsBucket: boolean;
  /** The server access logs bucket this construct created, if any. */
  readonly accessLogsBucket?: Bucket;
  /** Why the new bucket has no server access logs, when they are turned off. */
  readonly accessLogsDisabledReason?: string | undefined;
  readonly ingestFunction: IngestFunction;
  /** Receives every event the function could not process after its retries, with the error. */
  readonly failureQueue: Queue;
  readonly alarmTopic: ITopic;
  readonly monitoring: IngestMonitoring;
  /** The validated configuration the function runs with (credentials aside). */
  readonly config: ChuteConfig;
  /** The resources of the S3 read grants, one per route: `<bucket ARN>/<prefix>*<suffix>`. */
  readonly readResources: string[];
  /** The resource of the rejects write grant: `<bucket ARN>/<rejects prefix>*`. */
  readonly rejectsResource: string;

  constructor(scope: Construct, id: string, props: ChuteIngestProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // 1. Configuration: everything the function would refuse, S3 would refuse, or that would loop.
    const configInput: IngestConfigInput = {
      clickHouseUrl: Token.isUnresolved(props.clickHouseUrl) ? 'https://token.invalid' : props.clickHouseUrl,
      routes: props.routes,
      rejectsPrefix: props.rejectsPrefix,
      chunking: props.chunking,
      ledgerTable: props.ledgerTable,
      verifyS3Checksums: props.verifyS3Checksums,
      clickHouseDatabase: props.clickHouseDatabase,
    };
    this.config = validateIngestConfig(configInput);
    const name = props.name ?? defaultName(stack, id);
    if (!NAME.test(name)) {
      fail(
        `name "${name}" must be 1-200 letters, digits, "-" or "_" (it prefixes alarm and dashboard names)`,
      );
    }
    if (
      props.alarmEmail !== undefined &&
      !Token.isUnresolved(props.alarmEmail) &&
      !EMAIL.test(props.alarmEmail)
    ) {
      fail(`alarmEmail "${props.alarmEmail}" is not an e-mail address`);
    }
    const retryAttempts = props.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 2) {
      fail(`retryAttempts ${retryAttempts} must be 0, 1 or 2 (Lambda's limit for asynchronous invocations)`);
    }
    const maxEventAge = props.maxEventAge ?? DEFAULT_MAX_EVENT_AGE;
    const ageSeconds = maxEventAge.toSeconds({ integral: false });
    if (ageSeconds < 60 || ageSeconds > 6 * 3600) {
      fail(`maxEventAge ${maxEventAge.toHumanString()} must be from 1 minute to 6 hours (Lambda's limits)`);
    }
    for (const [prop, value] of [
      ['rejectsRetention', props.rejectsRetention],
      ['noncurrentVersionRetention', props.noncurrentVersionRetention],
    ] as const) {
      const days = value?.toDays({ integral: false });
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        fail(
          `${prop} ${value?.toHumanString()} must be a whole number of days, at least 1 (S3 lifecycle rules count days)`,
        );
      }
    }
    const rejectsPrefix = this.config.rejects.prefix;
    warnIfMemoryTight(this, props.memorySize ?? DEFAULT_MEMORY_MB, this.config.chunking);

    // 2. Bucket.
    if (props.bucket !== undefined) {
      if (props.encryptionKey !== undefined || props.accessLogsBucket !== undefined) {
        fail(
          'encryptionKey and accessLogsBucket apply to the bucket chute creates; with an existing bucket, leave them out (pass its key with Bucket.fromBucketAttributes)',
        );
      }
      this.bucket = props.bucket;
      this.ownsBucket = false;
      if (props.bucket instanceof Bucket) {
        props.bucket.addLifecycleRule({
          id: 'chute-expire-rejects',
          prefix: rejectsPrefix,
          expiration: props.rejectsRetention ?? DEFAULT_REJECTS_RETENTION,
        });
      } else {
        Annotations.of(this).addWarningV2(
          '@chute/existing-bucket',
          `Bucket ${props.bucket.bucketName} is imported: chute cannot check or set its encryption, versioning (exactly-once keys use object versions), access logs or a lifecycle rule for "${rejectsPrefix}"; make sure its owner has.`,
        );
      }
    } else {
      if (props.serverAccessLogs === false && props.accessLogsBucket !== undefined) {
        fail('serverAccessLogs is false but accessLogsBucket is set: choose one');
      }
      if (
        props.serverAccessLogs === false &&
        (props.serverAccessLogsDisabledReason ?? '').trim().length < 10
      ) {
        fail(
          'serverAccessLogs is false: say why in serverAccessLogsDisabledReason (it becomes the acknowledgement of cdk-nag rule AwsSolutions-S1)',
        );
      }
      this.accessLogsDisabledReason =
        props.serverAccessLogs === false ? props.serverAccessLogsDisabledReason : undefined;
      if (props.serverAccessLogs !== false && props.accessLogsBucket === undefined) {
        this.accessLogsBucket = this.createAccessLogsBucket();
      }
      const accessLogsBucket =
        props.serverAccessLogs === false ? undefined : (props.accessLogsBucket ?? this.accessLogsBucket);
      const key = props.encryptionKey;
      this.bucket = new Bucket(this, 'Bucket', {
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        ...(key === undefined
          ? { encryption: BucketEncryption.S3_MANAGED }
          : { encryption: BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true }),
        versioned: true,
        removalPolicy: RemovalPolicy.RETAIN,
        autoDeleteObjects: false,
        ...(accessLogsBucket === undefined
          ? {}
          : { serverAccessLogsBucket: accessLogsBucket, serverAccessLogsPrefix: `${name}/` }),
        lifecycleRules: [
          {
            id: 'chute-expire-rejects',
            prefix: rejectsPrefix,
            expiration: props.rejectsRetention ?? DEFAULT_REJECTS_RETENTION,
            noncurrentVersionExpiration: Duration.days(1),
          },
          {
            id: 'chute-expire-noncurrent-versions',
            noncurrentVersionExpiration:
              props.noncurrentVersionRetention ?? DEFAULT_NONCURRENT_VERSION_RETENTION,
            abortIncompleteMultipartUploadAfter: Duration.days(7),
          },
        ],
      });
      this.ownsBucket = true;
    }

    // 3. Failure queue: the on-failure destination, so no event is dropped silently.
    this.failureQueue = new Queue(this, 'FailureQueue', {
      ...(props.encryptionKey === undefined
        ? { encryption: QueueEncryption.SQS_MANAGED }
        : { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }),
      enforceSSL: true,
      retentionPeriod: FAILURE_QUEUE_RETENTION,
    });

    // 4. Function.
    const environment: Record<string, string> = {
      CHUTE_CONFIG: functionConfigJson(configInput, this.config),
      CLICKHOUSE_URL: props.clickHouseUrl,
      CLICKHOUSE_SECRET_ARN: props.clickHouseSecret.secretArn,
      // The metrics' `service` dimension: this construct's own, so that two chutes in one account and region
      // keep their figures and alarms apart.
      POWERTOOLS_SERVICE_NAME: name,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      ...(props.clickHouseDatabase === undefined ? {} : { CLICKHOUSE_DATABASE: props.clickHouseDatabase }),
    };
    checkEnvironmentSize(withTokenEstimates(environment));
    this.ingestFunction = new IngestFunction(this, 'Function', {
      ...(props.entry === undefined ? {} : { entry: props.entry }),
      ...(props.runtime === undefined ? {} : { runtime: props.runtime }),
      memorySize: props.memorySize ?? DEFAULT_MEMORY_MB,
      timeout: props.timeout ?? DEFAULT_TIMEOUT,
      reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY,
      logRetention: props.logRetention ?? DEFAULT_LOG_RETENTION,
      environment,
      retryAttempts,
      maxEventAge,
      onFailure: new SqsDestination(this.failureQueue),
    });
    const fn = this.ingestFunction;

    // 5. Least privilege: read the routed prefixes (and suffixes), write the rejects prefix, read the secret.
    this.readResources = [
      ...new Set(this.config.routes.map((r) => this.bucket.arnForObjects(`${r.prefix}*${r.suffix ?? ''}`))),
    ];
    this.rejectsResource = this.bucket.arnForObjects(`${rejectsPrefix}*`);
    fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadRoutedObjects',
        effect: Effect.ALLOW,
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: this.readResources,
      }),
    );
    // Listing the routed prefixes only, so that an object deleted before its event reads as "not found"
    // (and is skipped) rather than as "access denied" (which S3 says when the caller cannot list).
    fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'ListRoutedPrefixes',
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: {
          StringLike: { 's3:prefix': [...new Set(this.config.routes.map((r) => `${r.prefix}*`))] },
        },
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'WriteRejects',
        effect: Effect.ALLOW,
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [this.rejectsResource],
      }),
    );
    // Reads decrypt; writing rejects (single or multipart) needs a data key and decrypt.
    this.bucket.encryptionKey?.grant(fn, 'kms:Decrypt', 'kms:GenerateDataKey');
    props.clickHouseSecret.grantRead(fn);

    // 6. Events: one object-created notification per route.
    for (const route of this.config.routes) {
      const filter: NotificationKeyFilter = {
        ...(route.prefix === '' ? {} : { prefix: route.prefix }),
        ...(route.suffix === undefined ? {} : { suffix: route.suffix }),
      };
      const filters = Object.keys(filter).length === 0 ? [] : [filter];
      this.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(fn), ...filters);
    }

    // 7. Alarms and dashboard.
    if (props.alarmTopic !== undefined) {
      this.alarmTopic = props.alarmTopic;
    } else {
      const topic = new Topic(this, 'AlarmTopic', {
        displayName: `chute alarms (${name})`,
        enforceSSL: true,
        ...(props.encryptionKey === undefined ? {} : { masterKey: props.encryptionKey }),
      });
      // The SSL rule gives the topic a policy of its own, which replaces SNS's default one: say, as AWS advises
      // for alarm topics with a policy, that this account's alarms may publish.
      const stack = Stack.of(this);
      topic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowThisAccountsAlarmsToPublish',
          principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: {
            ArnLike: {
              'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
            },
          },
        }),
      );
      this.alarmTopic = topic;
      // CloudWatch publishes to an encrypted topic only if the key lets it (no-op for an imported key).
      props.encryptionKey?.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToUseTheKey',
          principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        }),
      );
    }
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    }
    this.monitoring = new IngestMonitoring(this, 'Monitoring', {
      ...props.alarms,
      service: name,
      ingestFunction: fn,
      logGroup: fn.functionLogGroup,
      memorySizeMb: props.memorySize ?? DEFAULT_MEMORY_MB,
      timeout: props.timeout ?? DEFAULT_TIMEOUT,
      failureQueue: this.failureQueue,
      alarmTopic: this.alarmTopic,
      namePrefix: name,
    });

    // 8. Every cdk-nag acknowledgement, with its reason, lives in nag.ts.
    acknowledgeChuteNagFindings(this);
  }

  get dashboard(): Dashboard {
    return this.monitoring.dashboard;
  }

  get alarms(): AlarmWithAnnotation[] {
    return this.monitoring.alarms;
  }

  private createAccessLogsBucket(): Bucket {
    return new Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // S3 server access logs can only be delivered to an SSE-S3 bucket.
      encryption: BucketEncryption.S3_MANAGED,
      // Log delivery by bucket policy works with ACLs disabled; the legacy path (feature flag off) grants
      // the log delivery group an ACL, which needs object-writer ownership.
      objectOwnership: FeatureFlags.of(this).isEnabled(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY)
        ? ObjectOwnership.BUCKET_OWNER_ENFORCED
        : ObjectOwnership.OBJECT_WRITER,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'chute-expire-access-logs', expiration: ACCESS_LOGS_RETENTION }],
    });
  }
}

/** The runtime and the bundle, without the chunk buffers: about 60 MiB of RSS after import on the bench, rounded up. */
const RUNTIME_MIB = 64;
/** A rejects upload part (8 MiB), held twice while it is joined and sent. */
const REJECTS_PART_MIB = 16;
/** Room for the young generation, garbage between collections and the sockets' buffers. */
const COLLECTION_ROOM_MIB = 32;

/**
 * What a file holds at most, roughly: the runtime, the chunk buffers (one per insert in flight, at least two:
 * see mostChunkBuffers), a rejects part and room for collection; measured peaks at the defaults were
 * 112-123 MiB on clean files and up to 140 MiB with many bad rows on Node 20, 131-136 and 149-152 MiB on
 * Node 24, which starts about 15 MiB bigger (BENCHMARKS.md).
 */
function warnIfMemoryTight(
  scope: Construct,
  memorySizeMb: number,
  chunking: { maxBytes: number; maxRecordBytes: number; insertsInFlight: number },
): void {
  if (Token.isUnresolved(memorySizeMb)) return;
  const mib = 1024 * 1024;
  const buffersMib = (mostChunkBuffers(chunking) * chunkBufferSize(chunking)) / mib;
  const neededMb = Math.ceil(RUNTIME_MIB + buffersMib + REJECTS_PART_MIB + COLLECTION_ROOM_MIB);
  if (memorySizeMb >= neededMb) return;
  Annotations.of(scope).addWarningV2(
    '@chute/memory-size',
    `memorySize ${memorySizeMb} MB is below the ${neededMb} MB a file may need at these chunk settings (${mostChunkBuffers(chunking)} chunk buffers of ${Math.round(chunkBufferSize(chunking) / mib)} MiB, the runtime, a rejects part): raise memorySize, or lower chunking.maxBytes or insertsInFlight.`,
  );
}

function defaultName(stack: Stack, id: string): string {
  const stackName = Token.isUnresolved(stack.stackName) ? 'chute' : stack.stackName;
  return `${stackName}-${id}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 200);
}

/** Tokens (ARNs of resources not yet deployed) count as 128 bytes, longer than any ARN they stand for. */
function withTokenEstimates(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [
      key,
      Token.isUnresolved(value) ? 'x'.repeat(128) : value,
    ]),
  );
}
