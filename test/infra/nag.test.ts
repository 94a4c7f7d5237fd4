import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ChuteIngest, type ChuteIngestProps } from '../../infra/chute-ingest.ts';
import { addNagChecks, NAG_REASONS } from '../../infra/nag.ts';
import { appProps, build, ROUTES } from './helpers.ts';

/** Every finding of both packs on the app that is not acknowledged: `severity rule path`. */
function unacknowledged(app: App): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.severity} ${v.ruleName} ${r.constructPath}`),
      ),
  );
}

const variants: [string, Partial<ChuteIngestProps> | ((stack: Stack) => Partial<ChuteIngestProps>)][] = [
  ['defaults', {}],
  [
    'with an alarm e-mail and every optional alarm',
    { alarmEmail: 'ops@example.com', alarms: { noFilesLoadedFor: Duration.hours(4) } },
  ],
  [
    'with a customer-managed KMS key',
    (s) => ({ encryptionKey: new Key(s, 'Key', { enableKeyRotation: true }) }),
  ],
  [
    'with an existing bucket imported by name',
    (s) => ({ bucket: Bucket.fromBucketName(s, 'Theirs', 'their-bucket') }),
  ],
  [
    'with an existing SSE-KMS bucket',
    (s) => ({
      bucket: Bucket.fromBucketAttributes(s, 'Theirs', {
        bucketName: 'their-bucket',
        encryptionKey: Key.fromKeyArn(
          s,
          'K',
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        ),
      }),
    }),
  ],
  [
    'with a secret given by partial ARN',
    (s) => ({
      clickHouseSecret: Secret.fromSecretPartialArn(
        s,
        'Partial',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chute/ch',
      ),
    }),
  ],
  [
    'without server access logs, for a stated reason',
    {
      serverAccessLogs: false,
      serverAccessLogsDisabledReason: 'CloudTrail S3 data events record every request',
    },
  ],
  [
    'with routes that need no suffix and a custom rejects prefix',
    {
      rejectsPrefix: 'quarantine/',
      routes: [
        { prefix: 'a/', table: 't', format: 'csv' },
        { prefix: 'b/', suffix: '.json', table: 'u', format: 'ndjson' },
      ],
    },
  ],
];

describe('cdk-nag AwsSolutions and Serverless packs', { timeout: 60_000 }, () => {
  it.each(variants)('find nothing unacknowledged %s', (_name, props) => {
    const { app, stack } = build(props);
    expect(unacknowledged(app)).toEqual([]);
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
  });

  it('really run: an unacknowledged queue next to chute is reported', () => {
    const { app, stack } = build();
    new Queue(stack, 'Unrelated');
    expect(unacknowledged(app)).toEqual(
      expect.arrayContaining([
        'error AwsSolutions-SQS3 Test/Unrelated/Resource',
        'error AwsSolutions-SQS4 Test/Unrelated/Resource',
      ]),
    );
  });

  it('run as policy-validation plugins on synth, which passes with an empty report', () => {
    const props = appProps();
    const app = new App(props);
    const stack = new Stack(app, 'Plugged', { env: { account: '123456789012', region: 'eu-west-1' } });
    new ChuteIngest(stack, 'Chute', {
      clickHouseUrl: 'https://clickhouse.internal.example:8443',
      clickHouseSecret: Secret.fromSecretCompleteArn(
        stack,
        'S',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
      ),
      routes: ROUTES,
    });
    addNagChecks(app);
    expect(() => app.synth()).not.toThrow();
    const reportFile = readdirSync(props.outdir).find((f) => f.includes('validation-report'));
    if (reportFile !== undefined) {
      const report = JSON.parse(readFileSync(join(props.outdir, reportFile), 'utf8')) as {
        pluginReports?: { violations?: unknown[] }[];
      };
      for (const plugin of report.pluginReports ?? []) expect(plugin.violations ?? []).toEqual([]);
    }
  });

  it('run as plugins make synth fail on an unacknowledged finding', () => {
    const app = new App(appProps());
    const stack = new Stack(app, 'Failing');
    new Queue(stack, 'Plain');
    addNagChecks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });

  it('acknowledge only in infra/nag.ts, each with a reason', () => {
    const infra = new URL('../../infra/', import.meta.url);
    for (const file of readdirSync(infra).filter((f) => f.endsWith('.ts') && f !== 'nag.ts')) {
      expect(readFileSync(new URL(file, infra), 'utf8'), file).not.toMatch(/\.acknowledge\(/);
    }
    for (const reason of Object.values(NAG_REASONS)) expect(reason.length).toBeGreaterThan(60);
  });

  it('record the acknowledgements on the constructs, with their reasons', () => {
    const { ingest } = build();
    const acknowledged = (construct: { node: { metadata: { type: string; data: unknown }[] } }) =>
      construct.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged(ingest.failureQueue).map(([id]) => id.replace(/^annotation::/i, ''))).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']),
    );
    const roleAcks = acknowledged(ingest.ingestFunction.role as never);
    expect(roleAcks.map(([id]) => id.replace(/^annotation::/i, ''))).toEqual(
      expect.arrayContaining([
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-IAM5[Resource::<ChuteBucket8E0D909A.Arn>/incoming/orders/*.csv.gz]',
        'AwsSolutions-IAM5[Resource::<ChuteBucket8E0D909A.Arn>/incoming/events/*]',
        'AwsSolutions-IAM5[Resource::<ChuteBucket8E0D909A.Arn>/chute-rejects/*]',
      ]),
    );
    expect(roleAcks.map(([, reason]) => reason)).toContain(NAG_REASONS.routeRead);
  });
});
