import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { MetricName } from '../../functions/core/metric-names.ts';
import { ChuteIngest } from '../../infra/chute-ingest.ts';
import { appProps, build, logicalId, must, resourcesOfType, SECRET_ARN } from './helpers.ts';

const base = build();
const { template, stack, ingest } = base;
const bucketId = logicalId(stack, ingest.bucket as Bucket);
const functionId = logicalId(stack, ingest.ingestFunction);
const queueId = logicalId(stack, ingest.failureQueue);
const topicId = logicalId(stack, ingest.alarmTopic as Topic);
const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
const objectArn = (suffix: string) => ({ 'Fn::Join': ['', [bucketArn, suffix]] });

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Sid?: string;
  Condition?: unknown;
};

function functionPolicyStatements(t: Template, s: Stack, i: typeof ingest): Statement[] {
  const roleId = s.getLogicalId(
    i.ingestFunction.role?.node.findChild('DefaultPolicy').node.defaultChild as never,
  );
  const policies = resourcesOfType(t, 'AWS::IAM::Policy');
  const policy = policies[roleId];
  if (policy === undefined) throw new Error(`no policy ${roleId}`);
  // CDK sorts and merges statements; compare them in a canonical order.
  return (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.map((statement) => ({
    ...statement,
    Action: Array.isArray(statement.Action) ? [...statement.Action].sort() : statement.Action,
    Resource: Array.isArray(statement.Resource)
      ? [...statement.Resource].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
      : statement.Resource,
  }));
}

function alarmNamed(t: Template, suffix: string): Record<string, unknown> {
  const alarms = Object.values(resourcesOfType(t, 'AWS::CloudWatch::Alarm'));
  const found = alarms.filter((a) => String(a.Properties.AlarmName).endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one alarm named *${suffix}, found ${found.length}`);
  return (found[0] as { Properties: Record<string, unknown> }).Properties;
}

function metricOf(alarm: Record<string, unknown>) {
  const metrics = alarm.Metrics as {
    MetricStat: { Metric: Record<string, unknown>; Period: number; Stat: string };
  }[];
  const first = metrics[0];
  if (first === undefined) throw new Error('alarm has no metric');
  return { ...first.MetricStat.Metric, Period: first.MetricStat.Period, Stat: first.MetricStat.Stat };
}

describe('bucket', () => {
  it('blocks all public access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  it('is versioned, S3-managed encrypted, ACLs disabled, and retained on stack deletion', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    });
    expect(template.findResources('AWS::S3::Bucket')[bucketId]?.DeletionPolicy).toBe('Retain');
  });

  it('denies requests without TLS, and TLS below 1.2', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('expires rejects, old versions and abandoned uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'chute-expire-rejects',
            Prefix: 'chute-rejects/',
            ExpirationInDays: 30,
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            Status: 'Enabled',
          },
          {
            Id: 'chute-expire-noncurrent-versions',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            Status: 'Enabled',
          },
        ],
      },
    });
  });

  it('writes server access logs to a separate, SSE-S3, SSL-only, expiring bucket', () => {
    const logsId = logicalId(stack, ingest.accessLogsBucket as Bucket);
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'Test-Chute/' },
    });
    const logs = template.findResources('AWS::S3::Bucket')[logsId];
    expect(logs?.DeletionPolicy).toBe('Retain');
    expect(logs?.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('uses an ACL-compatible logs bucket when the app has the legacy log-delivery flag', () => {
    const { template: t } = build(
      {},
      { context: { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': false } },
    );
    t.hasResourceProperties('AWS::S3::Bucket', {
      OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] },
      AccessControl: 'LogDeliveryWrite',
    });
  });

  it('can skip access logs, or log to a given bucket', () => {
    const none = build({
      serverAccessLogs: false,
      serverAccessLogsDisabledReason: 'CloudTrail S3 data events record every request to this bucket',
    });
    none.template.resourceCountIs('AWS::S3::Bucket', 1);
    none.template.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: Match.absent() });

    const given = build((s) => ({ accessLogsBucket: new Bucket(s, 'CentralLogs') }));
    expect(given.ingest.accessLogsBucket).toBeUndefined();
    given.template.resourceCountIs('AWS::S3::Bucket', 2);
    given.template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^CentralLogs') } },
    });
  });

  it('applies custom rejects and version retention', () => {
    const { template: t } = build({
      rejectsPrefix: 'bad-rows/',
      rejectsRetention: Duration.days(7),
      noncurrentVersionRetention: Duration.days(3),
    });
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({ Prefix: 'bad-rows/', ExpirationInDays: 7 }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 3 } }),
        ],
      },
    });
  });
});

describe('customer-managed KMS key', () => {
  const kms = build((s) => ({ encryptionKey: new Key(s, 'Key', { enableKeyRotation: true }) }));
  const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] };

  it('encrypts the bucket (with an S3 bucket key), the failure queue and the alarm topic', () => {
    kms.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
          },
        ],
      },
    });
    kms.template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
    kms.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
  });

  it('keeps the access logs bucket on SSE-S3 (the only encryption log delivery supports)', () => {
    kms.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ Id: 'chute-expire-access-logs' })] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it('lets CloudWatch alarms publish to the encrypted topic', () => {
    kms.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCloudWatchAlarmsToUseTheKey',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('lets the function decrypt what it reads and encrypt the rejects it writes, with this key only', () => {
    const statements = functionPolicyStatements(kms.template, kms.stack, kms.ingest);
    const keyId = kms.stack.getLogicalId(kms.ingest.bucket.encryptionKey?.node.defaultChild as never);
    const kmsStatements = statements.filter((st) => JSON.stringify(st.Action).includes('kms:'));
    // Reads and rejects need Decrypt and GenerateDataKey; sending failed events to the encrypted queue
    // (Queue.grantSendMessages) adds Encrypt, GenerateDataKey* and ReEncrypt*. CDK merges them into one
    // statement on this key and nothing else.
    expect(kmsStatements).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'kms:Decrypt',
          'kms:Encrypt',
          'kms:GenerateDataKey',
          'kms:GenerateDataKey*',
          'kms:ReEncrypt*',
        ],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
    ]);
  });
});

describe('function', () => {
  it('is Node.js 24 on ARM64 with the documented memory, timeout, concurrency and tracing', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
      ReservedConcurrentExecutions: 5,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: {
        LogFormat: 'Text',
        LogGroup: { Ref: Match.stringLikeRegexp('^ChuteFunctionLogGroup') },
      },
    });
  });

  it('logs to an explicit log group with a month of retention, kept after the stack', () => {
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Retain',
    });
  });

  it('gets its configuration without credentials: CHUTE_CONFIG, the URL, the secret ARN', () => {
    const fn = must(resourcesOfType(template, 'AWS::Lambda::Function')[functionId], 'the function');
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(variables).sort()).toEqual([
      'CHUTE_CONFIG',
      'CLICKHOUSE_SECRET_ARN',
      'CLICKHOUSE_URL',
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
    expect(variables).toMatchObject({
      CLICKHOUSE_URL: 'https://clickhouse.internal.example:8443',
      CLICKHOUSE_SECRET_ARN: SECRET_ARN,
      POWERTOOLS_SERVICE_NAME: 'Test-Chute',
      POWERTOOLS_METRICS_NAMESPACE: 'Chute',
      NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=4',
    });
    const config = JSON.parse(String(variables.CHUTE_CONFIG)) as Record<string, unknown>;
    expect(Object.keys(config).sort()).toEqual(['chunking', 'ledger', 'rejects', 'routes']);
    expect(config.ledger).toEqual({ table: 'chute_load_history' });
    expect(config.routes).toEqual([
      { name: 'orders', prefix: 'incoming/orders/', suffix: '.csv.gz', table: 'orders', format: 'csv' },
      { name: 'events', prefix: 'incoming/events/', table: 'analytics.events', format: 'ndjson' },
    ]);
    expect(JSON.stringify(variables)).not.toMatch(/password|username/i);
  });

  it('passes verifyS3Checksums into CHUTE_CONFIG only when set', () => {
    const chuteConfig = (t: Template, s: Stack, i: typeof ingest): string => {
      const fn = must(
        resourcesOfType(t, 'AWS::Lambda::Function')[logicalId(s, i.ingestFunction)],
        'function',
      );
      return String(
        (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.CHUTE_CONFIG,
      );
    };
    expect(chuteConfig(template, stack, ingest)).not.toContain('"s3"');
    expect(ingest.config.s3.verifyChecksums).toBeUndefined();
    const off = build({ verifyS3Checksums: false });
    const json = chuteConfig(off.template, off.stack, off.ingest);
    expect(json).toContain('"s3":{"verifyChecksums":false}');
    expect((JSON.parse(json) as { s3: unknown }).s3).toEqual({ verifyChecksums: false });
    expect(off.ingest.config.s3.verifyChecksums).toBe(false);
  });

  it('passes the database when given', () => {
    build({ clickHouseDatabase: 'analytics' }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CLICKHOUSE_DATABASE: 'analytics' }) },
    });
  });

  it('takes memory, timeout, concurrency, runtime and log retention from props', () => {
    const { template: t } = build({
      memorySize: 2048,
      timeout: Duration.minutes(5),
      reservedConcurrency: 2,
      runtime: Runtime.NODEJS_22_X,
      logRetention: 7,
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Timeout: 300,
      ReservedConcurrentExecutions: 2,
      Runtime: 'nodejs22.x',
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('has a role of its own without the broad AWSLambdaBasicExecutionRole policy', () => {
    const roleId = stack.getLogicalId(ingest.ingestFunction.role?.node.defaultChild as never);
    const role = resourcesOfType(template, 'AWS::IAM::Role')[roleId];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties.AssumeRolePolicyDocument).toMatchObject({
      Statement: [{ Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }],
    });
  });
});

describe('least privilege', () => {
  const statements = functionPolicyStatements(template, stack, ingest);
  const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  it('reads only the routed prefixes and suffixes', () => {
    expect(statements.find((s) => s.Sid === 'ReadRoutedObjects')).toEqual({
      Sid: 'ReadRoutedObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: [objectArn('/incoming/events/*'), objectArn('/incoming/orders/*.csv.gz')],
    });
  });

  it('lists only the routed prefixes, so that a deleted object reads as not found', () => {
    const list = statements.find((s) => s.Sid === 'ListRoutedPrefixes');
    expect(list?.Action).toBe('s3:ListBucket');
    expect(list?.Condition).toEqual({
      StringLike: { 's3:prefix': ['incoming/orders/*', 'incoming/events/*'] },
    });
  });

  it('writes only the rejects prefix', () => {
    expect(statements.find((s) => s.Sid === 'WriteRejects')).toEqual({
      Sid: 'WriteRejects',
      Effect: 'Allow',
      Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
      Resource: objectArn('/chute-rejects/*'),
    });
  });

  it('reads only the one secret', () => {
    const secretStatements = statements.filter((s) =>
      actionsOf(s).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: SECRET_ARN,
      },
    ]);
  });

  it('holds no other permission than logs, X-Ray, the failure queue, S3 as above and the secret', () => {
    const all = statements.flatMap(actionsOf).sort();
    expect(all).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        's3:PutObject',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const logs = statements.find((s) => actionsOf(s).includes('logs:PutLogEvents'));
    expect(logs?.Resource).toEqual({
      'Fn::GetAtt': [
        stack.getLogicalId(ingest.ingestFunction.functionLogGroup.node.defaultChild as never),
        'Arn',
      ],
    });
    const sqs = statements.find((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(sqs?.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  it('grants on an existing bucket by name, and on its KMS key when given', () => {
    const existing = build((s) => ({
      bucket: Bucket.fromBucketAttributes(s, 'Theirs', {
        bucketName: 'their-data-bucket',
        encryptionKey: Key.fromKeyArn(
          s,
          'TheirKey',
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        ),
      }),
    }));
    const theirs = (suffix: string) => `arn:aws:s3:::their-data-bucket${suffix}`;
    const all = functionPolicyStatements(existing.template, existing.stack, existing.ingest);
    expect(all.find((s) => s.Sid === 'ReadRoutedObjects')?.Resource).toEqual([
      theirs('/incoming/events/*'),
      theirs('/incoming/orders/*.csv.gz'),
    ]);
    expect(all.find((s) => s.Sid === 'WriteRejects')?.Resource).toEqual(theirs('/chute-rejects/*'));
    expect(all).toContainEqual({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    });
  });
});

describe('events', () => {
  it('creates one object-created notification per route, with its prefix and suffix', () => {
    const notifications = must(
      Object.values(resourcesOfType(template, 'Custom::S3BucketNotifications'))[0],
      'the notifications resource',
    );
    expect(notifications.Properties.BucketName).toEqual({ Ref: bucketId });
    const configurations = (
      notifications.Properties.NotificationConfiguration as {
        LambdaFunctionConfigurations: {
          Events: string[];
          Filter: { Key: { FilterRules: { Name: string; Value: string }[] } };
          LambdaFunctionArn: unknown;
        }[];
      }
    ).LambdaFunctionConfigurations;
    expect(
      configurations.map((c) => ({
        events: c.Events,
        target: c.LambdaFunctionArn,
        filter: Object.fromEntries(c.Filter.Key.FilterRules.map((r) => [r.Name, r.Value])),
      })),
    ).toEqual([
      {
        events: ['s3:ObjectCreated:*'],
        target: { 'Fn::GetAtt': [functionId, 'Arn'] },
        filter: { prefix: 'incoming/orders/', suffix: '.csv.gz' },
      },
      {
        events: ['s3:ObjectCreated:*'],
        target: { 'Fn::GetAtt': [functionId, 'Arn'] },
        filter: { prefix: 'incoming/events/' },
      },
    ]);
    // Nothing else is sent anywhere.
    expect(Object.keys(notifications.Properties.NotificationConfiguration as object)).toEqual([
      'LambdaFunctionConfigurations',
    ]);
  });

  it('lets only this bucket, in this account, invoke the function', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceAccount: '123456789012',
      SourceArn: bucketArn,
    });
  });

  it('sends a suffix-only filter for a route over the whole bucket', () => {
    const { template: t } = build({
      rejectsPrefix: 'rejects/',
      routes: [{ suffix: '.parquet.csv', table: 't', format: 'csv' }],
    });
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          Match.objectLike({ Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.parquet.csv' }] } } }),
        ],
      },
    });
  });
});

describe('failures', () => {
  it('retries twice for up to 6 hours, then sends the event to the failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('keeps failed events 14 days in an encrypted, SSL-only queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  it('takes retries and event age from props', () => {
    build({ retryAttempts: 0, maxEventAge: Duration.minutes(30) }).template.hasResourceProperties(
      'AWS::Lambda::EventInvokeConfig',
      { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 1800 },
    );
  });
});

describe('alarms', () => {
  const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));

  it('creates the twelve alarms, each notifying the topic when it fires and when it recovers', () => {
    expect(alarms).toHaveLength(12);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.ActionsEnabled).toBe(true);
      expect(String(alarm.Properties.AlarmDescription)).toContain('Do: ');
      expect(String(alarm.Properties.AlarmDescription)).toContain('Runbook: README.md, "Alarm runbook"');
      expect(String(alarm.Properties.AlarmName)).toMatch(/^Test-Chute-/);
    }
  });

  const lambda = (metricName: string) => ({
    Namespace: 'AWS/Lambda',
    MetricName: metricName,
    Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }],
  });
  const chute = (metricName: string) => ({
    Namespace: 'Chute',
    MetricName: metricName,
    Dimensions: [{ Name: 'service', Value: 'Test-Chute' }],
  });
  const queue = (metricName: string) => ({
    Namespace: 'AWS/SQS',
    MetricName: metricName,
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
  });

  it.each([
    // name suffix, metric, stat, period, threshold, evaluation periods (= datapoints)
    ['Function-Fault-Count-Critical', lambda('Errors'), 'Sum', 300, 0, 1],
    ['Function-Throttled-Count-Warning', lambda('Throttles'), 'Sum', 300, 0, 6],
    ['Function-Latency-P99-Warning', lambda('Duration'), 'p99', 900, 720_000, 1],
    ['Async-AsyncEventsDropped-Critical', lambda('AsyncEventsDropped'), 'Sum', 300, 0, 1],
    ['Async-DestinationDeliveryFailures-Critical', lambda('DestinationDeliveryFailures'), 'Sum', 300, 0, 1],
    [
      'FailureQueue-Queue-Message-Count-Max-Critical',
      queue('ApproximateNumberOfMessagesVisible'),
      'Maximum',
      300,
      0,
      1,
    ],
    [
      'FailureQueue-Queue-Message-Age-Max-Warning',
      queue('ApproximateAgeOfOldestMessage'),
      'Maximum',
      300,
      86_400,
      1,
    ],
    ['Files-RowsRejected-Critical', chute(MetricName.RowsRejected), 'Sum', 300, 0, 1],
    ['Files-FilesFailed-Critical', chute(MetricName.FilesFailed), 'Sum', 300, 0, 1],
    ['Files-FilesGone-Critical', chute(MetricName.FilesGone), 'Sum', 300, 0, 1],
    ['Files-IngestLag-Critical', chute(MetricName.IngestLagSeconds), 'Maximum', 300, 1800, 1],
    [
      'Memory-MemoryNearLimit-Critical',
      { Namespace: 'Chute/Lambda', MetricName: 'MaxMemoryUsedMB-Test-Chute' },
      'Maximum',
      300,
      921,
      1,
    ],
  ])('%s', (suffix, metric, stat, period, threshold, periods) => {
    const alarm = alarmNamed(template, suffix);
    expect(metricOf(alarm)).toEqual({ ...metric, Stat: stat, Period: period });
    expect(alarm).toMatchObject({
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: periods,
      DatapointsToAlarm: periods,
    });
  });

  it('treats missing data as no problem for event-driven metrics', () => {
    for (const suffix of [
      'Files-RowsRejected-Critical',
      'Files-FilesGone-Critical',
      'Function-Fault-Count-Critical',
      'Files-IngestLag-Critical',
    ]) {
      expect(alarmNamed(template, suffix).TreatMissingData).toBe('notBreaching');
    }
  });

  it('derives the duration and memory thresholds from the function settings and options', () => {
    const { template: t } = build({
      timeout: Duration.minutes(5),
      memorySize: 2048,
      alarms: {
        durationPercentOfTimeout: 50,
        memoryPercentOfLimit: 75,
        ingestLagThreshold: Duration.hours(2),
      },
    });
    expect(alarmNamed(t, 'Function-Latency-P99-Warning').Threshold).toBe(150_000);
    expect(alarmNamed(t, 'Memory-MemoryNearLimit-Critical').Threshold).toBe(1536);
    expect(alarmNamed(t, 'Files-IngestLag-Critical').Threshold).toBe(7200);
  });

  it('alarms on a steady feed that stops, when asked', () => {
    const { template: t } = build({ alarms: { noFilesLoadedFor: Duration.hours(6) } });
    t.resourceCountIs('AWS::CloudWatch::Alarm', 13);
    const alarm = alarmNamed(t, 'Files-NoFilesLoaded-Critical');
    expect(metricOf(alarm)).toEqual({ ...chute(MetricName.FilesLoaded), Stat: 'Sum', Period: 3600 });
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 6,
      DatapointsToAlarm: 6,
      TreatMissingData: 'breaching',
    });
  });

  it('reads memory from the REPORT line of the function log', () => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('^ChuteFunctionLogGroup') },
      FilterPattern:
        '[report = "REPORT", requestIdLabel, requestId, durationLabel, duration, durationUnit, billedLabel, billedDurationLabel, billedDuration, billedUnit, memoryLabel, sizeLabel, memorySize, memorySizeUnit, maxLabel = "Max", maxMemoryLabel, usedLabel = "Used:", maxMemoryUsed, maxMemoryUsedUnit, ...]',
      MetricTransformations: [
        {
          MetricNamespace: 'Chute/Lambda',
          MetricName: 'MaxMemoryUsedMB-Test-Chute',
          MetricValue: '$maxMemoryUsed',
        },
      ],
    });
  });

  it('sends to an SSL-only topic, with an optional e-mail subscription', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    build({ alarmEmail: 'ops@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('^ChuteAlarmTopic') },
    });
  });

  it('uses a given topic instead of creating one', () => {
    const other = build((s) => ({ alarmTopic: new Topic(s, 'Existing') }));
    other.template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const alarm of Object.values(resourcesOfType(other.template, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Existing/) }]);
    }
  });

  it('links the runbook when given a URL', () => {
    const { template: t } = build({ alarms: { runbookUrl: 'https://wiki.example.com/chute#runbook' } });
    expect(String(alarmNamed(t, 'Function-Fault-Count-Critical').AlarmDescription)).toContain(
      'Runbook: https://wiki.example.com/chute#runbook',
    );
  });
});

describe('dashboard', () => {
  const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
  const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);

  it('is one dashboard named after the stack and construct', () => {
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.Properties.DashboardName).toBe('Test-Chute');
  });

  it('draws every per-file figure the function publishes', () => {
    for (const name of Object.values(MetricName)) expect(body).toContain(`\\"${name}\\"`);
    expect(body).toContain('\\"Chute\\"');
    expect(body).toContain('\\"service\\",\\"Test-Chute\\"');
  });

  it('gives each construct its own metrics dimension, so that two in one account keep their alarms apart', () => {
    const app = new App(appProps());
    const stack = new Stack(app, 'Two', { env: { account: '123456789012', region: 'eu-west-1' } });
    const secret = Secret.fromSecretCompleteArn(stack, 'Secret', SECRET_ARN);
    const props = { clickHouseUrl: 'https://clickhouse.internal.example:8443', clickHouseSecret: secret };
    new ChuteIngest(stack, 'Orders', {
      ...props,
      routes: [{ prefix: 'orders/', table: 'orders', format: 'csv' }],
    });
    new ChuteIngest(stack, 'Events', {
      ...props,
      routes: [{ prefix: 'events/', table: 'events', format: 'ndjson' }],
    });
    const template = Template.fromStack(stack);
    const services = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))
      .map(
        (fn) => (fn.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables,
      )
      .flatMap((variables) =>
        variables?.POWERTOOLS_SERVICE_NAME === undefined ? [] : [variables.POWERTOOLS_SERVICE_NAME],
      );
    expect(services.sort()).toEqual(['Two-Events', 'Two-Orders']);
    // Each one's FilesFailed alarm watches its own function's figures.
    for (const service of services) {
      expect(metricOf(alarmNamed(template, `${service}-Files-FilesFailed-Critical`))).toMatchObject({
        Namespace: 'Chute',
        Dimensions: [{ Name: 'service', Value: service }],
      });
    }
  });

  it('draws the Lambda, asynchronous invocation, memory and queue metrics beside them', () => {
    for (const name of [
      'Invocations',
      'Errors',
      'Throttles',
      'Duration',
      'AsyncEventsDropped',
      'DestinationDeliveryFailures',
      'AsyncEventAge',
      'MaxMemoryUsedMB-Test-Chute',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
    ]) {
      expect(body).toContain(`\\"${name}\\"`);
    }
  });
});

describe('existing bucket', () => {
  const existing = build((s) => ({ bucket: Bucket.fromBucketName(s, 'Theirs', 'their-data-bucket') }));

  it('creates no bucket, only the notifications on it', () => {
    existing.template.resourceCountIs('AWS::S3::Bucket', 0);
    existing.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'their-data-bucket',
      Managed: false,
      NotificationConfiguration: {
        LambdaFunctionConfigurations: Match.arrayWith([Match.objectLike({ Events: ['s3:ObjectCreated:*'] })]),
      },
    });
  });

  it('warns that encryption, versioning, logs and the rejects lifecycle are its owner’s', () => {
    Annotations.fromStack(existing.stack).hasWarning(
      '/Test/Chute',
      Match.stringLikeRegexp(
        'Bucket their-data-bucket is imported: chute cannot check or set its encryption, versioning',
      ),
    );
  });

  it('adds the rejects lifecycle rule to a bucket defined in the same app', () => {
    const mine = build((s) => ({ bucket: new Bucket(s, 'Mine', { versioned: true }) }));
    mine.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          { Id: 'chute-expire-rejects', Prefix: 'chute-rejects/', ExpirationInDays: 30, Status: 'Enabled' },
        ],
      },
    });
  });
});

describe('props checked at synth time, with messages naming them', () => {
  it.each([
    [
      'overlapping routes',
      {
        routes: [
          { name: 'a', prefix: 'in/', table: 't', format: 'csv' as const },
          { name: 'b', prefix: 'in/x/', table: 'u', format: 'csv' as const },
        ],
      },
      'routes[0] "a" (prefix "in/", any suffix) overlaps routes[1] "b" (prefix "in/x/", any suffix)',
    ],
    [
      'a loop through the rejects prefix',
      { routes: [{ name: 'all', prefix: '', table: 't', format: 'csv' as const }] },
      'routes[0].prefix: "" (suffix none) can match rejects objects under "chute-rejects/"',
    ],
    [
      'a bad route',
      { routes: [{ prefix: 'a/', table: 't', format: 'csv' as const, delimiter: ';;' }] },
      'routes[0].delimiter: ',
    ],
    [
      'a runtime other than Node.js 22/24',
      { runtime: Runtime.NODEJS_20_X },
      'runtime nodejs20.x is not supported',
    ],
    ['too little memory', { memorySize: 64 }, 'memorySize 64 must be a whole number of MB from 128 to 10240'],
    [
      'a timeout past 15 minutes',
      { timeout: Duration.minutes(20) },
      'timeout 20 minutes must be from 60 seconds',
    ],
    [
      'a timeout with no time for a chunk',
      { timeout: Duration.seconds(30) },
      'timeout 30 seconds must be from 60 seconds to 15 minutes (no chunk starts with less than 30 s left)',
    ],
    ['no concurrency', { reservedConcurrency: 0 }, 'reservedConcurrency 0 must be a whole number >= 1'],
    ['too many retries', { retryAttempts: 3 }, 'retryAttempts 3 must be 0, 1 or 2'],
    [
      'an event age past 6 hours',
      { maxEventAge: Duration.hours(7) },
      'maxEventAge 7 hours must be from 1 minute to 6 hours',
    ],
    [
      'a bad e-mail',
      { alarmEmail: 'ops-at-example' },
      'alarmEmail "ops-at-example" is not an e-mail address',
    ],
    ['a bad name', { name: 'chute ingest' }, 'name "chute ingest" must be 1-200 letters'],
    [
      'conflicting access log props',
      { serverAccessLogs: false, accessLogsBucket: {} as Bucket },
      'serverAccessLogs is false but accessLogsBucket is set',
    ],
    [
      'a rejects retention in hours',
      { rejectsRetention: Duration.hours(36) },
      'rejectsRetention 1 day 12 hours must be a whole number of days, at least 1',
    ],
    [
      'access logs off without a reason',
      { serverAccessLogs: false },
      'serverAccessLogs is false: say why in serverAccessLogsDisabledReason',
    ],
    [
      'partial hours without files',
      { alarms: { noFilesLoadedFor: Duration.minutes(90) } },
      'alarms.noFilesLoadedFor 1 hour 30 minutes must be whole hours from 1 to 168',
    ],
    [
      'a duration percentage over 100',
      { alarms: { durationPercentOfTimeout: 120 } },
      'alarms.durationPercentOfTimeout 120 must be between 0 and 100',
    ],
    [
      'throttling not in 5-minute steps',
      { alarms: { sustainedThrottling: Duration.minutes(7) } },
      'alarms.sustainedThrottling 7 minutes must be a multiple of 5 minutes',
    ],
    [
      'a failure-queue age beyond its retention',
      { alarms: { failureQueueMaxAge: Duration.days(14) } },
      "alarms.failureQueueMaxAge 14 days must be from 1 minute to less than the queue's 14-day retention",
    ],
  ])('refuses %s', (_what, props, message) => {
    expect(() => build(props as never)).toThrow(message);
  });

  it('refuses a configuration too large for the Lambda environment', () => {
    const routes = Array.from({ length: 60 }, (_, i) => ({
      name: `route-number-${i}-with-a-long-descriptive-name`,
      prefix: `incoming/feed-${i}/`,
      table: `analytics.table_number_${i}`,
      format: 'csv' as const,
    }));
    expect(() => build({ routes })).toThrow(
      /over Lambda's 4096-byte limit \(CHUTE_CONFIG alone is \d+ bytes\)/,
    );
  });

  it('refuses an encryption key or access logs bucket with an existing bucket', () => {
    expect(() =>
      build((s) => ({
        bucket: Bucket.fromBucketName(s, 'B', 'their-bucket'),
        encryptionKey: new Key(s, 'K'),
      })),
    ).toThrow('encryptionKey and accessLogsBucket apply to the bucket chute creates');
  });

  it('emits no warning for a valid configuration', () => {
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
  });

  it('warns when memorySize leaves no room for the chunk buffers, and not at the defaults', () => {
    const tight = build({ memorySize: 128 });
    Annotations.fromStack(tight.stack).hasWarning(
      '/Test/Chute',
      Match.stringLikeRegexp(
        'memorySize 128 MB is below the 149 MB a file may need at these chunk settings \\(2 chunk buffers of 18 MiB',
      ),
    );
    const bigChunks = build({
      memorySize: 256,
      chunking: { maxBytes: 64 * 1024 * 1024, insertsInFlight: 3 },
    });
    Annotations.fromStack(bigChunks.stack).hasWarning(
      '/Test/Chute',
      Match.stringLikeRegexp('memorySize 256 MB'),
    );
    Annotations.fromStack(build({ memorySize: 256 }).stack).hasNoWarning('*', Match.anyValue());
  });
});
