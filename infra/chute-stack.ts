import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { RouteInput } from '../functions/core/config/schema.ts';
import { type AppConfig, usesPlaceholders } from './app-config.ts';
import { ChuteIngest } from './chute-ingest.ts';

export interface ChuteStackProps extends StackProps {
  /** The app configuration (see app-config.ts): ClickHouse, the secret, routes, and optional tuning. */
  readonly config: AppConfig;
}

/** A complete secret ARN ends with `-` and the 6 random characters Secrets Manager appends. */
const COMPLETE_SECRET_ARN = /:secret:.+-[A-Za-z0-9]{6}$/;

/**
 * The ready-made deployment: one ChuteIngest from the app configuration, and outputs naming what was
 * created (bucket, function, failure queue, alarm topic, dashboard).
 */
export class ChuteStack extends Stack {
  readonly ingest: ChuteIngest;

  constructor(scope: Construct, id: string, props: ChuteStackProps) {
    super(scope, id, props);
    const { config } = props;

    const secret: ISecret = COMPLETE_SECRET_ARN.test(config.clickHouseSecretArn)
      ? Secret.fromSecretCompleteArn(this, 'ClickHouseSecret', config.clickHouseSecretArn)
      : Secret.fromSecretPartialArn(this, 'ClickHouseSecret', config.clickHouseSecretArn);

    this.ingest = new ChuteIngest(this, 'Ingest', {
      clickHouseUrl: config.clickHouseUrl,
      clickHouseSecret: secret,
      routes: config.routes as RouteInput[],
      ...(config.clickHouseDatabase === undefined ? {} : { clickHouseDatabase: config.clickHouseDatabase }),
      ...(config.rejectsPrefix === undefined ? {} : { rejectsPrefix: config.rejectsPrefix }),
      ...(config.chunking === undefined ? {} : { chunking: config.chunking }),
      ...(config.verifyS3Checksums === undefined ? {} : { verifyS3Checksums: config.verifyS3Checksums }),
      ...(config.existingBucketName === undefined
        ? {}
        : { bucket: Bucket.fromBucketName(this, 'ExistingBucket', config.existingBucketName) }),
      ...(config.alarmEmail === undefined ? {} : { alarmEmail: config.alarmEmail }),
      ...(config.memorySize === undefined ? {} : { memorySize: config.memorySize }),
      ...(config.timeoutSeconds === undefined ? {} : { timeout: Duration.seconds(config.timeoutSeconds) }),
      ...(config.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrency: config.reservedConcurrency }),
      ...(config.retryAttempts === undefined ? {} : { retryAttempts: config.retryAttempts }),
      ...(config.maxEventAgeSeconds === undefined
        ? {}
        : { maxEventAge: Duration.seconds(config.maxEventAgeSeconds) }),
      alarms: {
        ...(config.ingestLagThresholdMinutes === undefined
          ? {}
          : { ingestLagThreshold: Duration.minutes(config.ingestLagThresholdMinutes) }),
        ...(config.noFilesLoadedForHours === undefined
          ? {}
          : { noFilesLoadedFor: Duration.hours(config.noFilesLoadedForHours) }),
        ...(config.runbookUrl === undefined ? {} : { runbookUrl: config.runbookUrl }),
      },
    });

    if (usesPlaceholders(config)) {
      Annotations.of(this).addWarningV2(
        '@chute/placeholder-config',
        'The ClickHouse URL or secret ARN is still the example placeholder: this synthesizes, but the deployed function could not connect. Set chute:clickHouseUrl and chute:clickHouseSecretArn (README.md, "Deploy from zero").',
      );
    }

    const ingest = this.ingest;
    new CfnOutput(this, 'BucketName', {
      value: ingest.bucket.bucketName,
      description: 'Drop files here, under a route prefix',
    });
    new CfnOutput(this, 'FunctionName', { value: ingest.ingestFunction.functionName });
    new CfnOutput(this, 'FunctionLogGroup', { value: ingest.ingestFunction.functionLogGroup.logGroupName });
    new CfnOutput(this, 'FailureQueueUrl', {
      value: ingest.failureQueue.queueUrl,
      description: 'Events of files that were not loaded, with the error',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: ingest.alarmTopic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: ingest.dashboard.dashboardName });
  }
}
