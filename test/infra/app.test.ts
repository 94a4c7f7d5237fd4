import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readAppConfig, usesPlaceholders } from '../../infra/app-config.ts';
import { createChuteApp } from '../../infra/chute-app.ts';
import { processTempDir } from '../fixtures/temp-dir.ts';
import { appProps, CDK_JSON_CONTEXT } from './helpers.ts';

const REPO = new URL('../..', import.meta.url).pathname;
const REAL_SECRET = 'arn:aws:secretsmanager:eu-west-1:210987654321:secret:prod/clickhouse-Zz9Yy8';

function context(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

function configFile(content: unknown): string {
  const path = join(processTempDir('chute-config-'), 'chute.config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('readAppConfig', () => {
  it('reads the example file cdk.json points to', () => {
    const config = readAppConfig(context(CDK_JSON_CONTEXT), REPO);
    expect(config).toMatchObject({
      stackName: 'Chute',
      clickHouseUrl: 'https://clickhouse.example.com:8443',
      routes: [expect.objectContaining({ name: 'orders' }), expect.objectContaining({ name: 'events' })],
    });
    expect(usesPlaceholders(config)).toBe(true);
  });

  it('lets -c chute:<key> override the file, parsing JSON and numbers given as strings', () => {
    const config = readAppConfig(
      context({
        ...CDK_JSON_CONTEXT,
        'chute:clickHouseUrl': 'https://ch.prod.internal:8443',
        'chute:clickHouseSecretArn': REAL_SECRET,
        'chute:reservedConcurrency': '3',
        'chute:routes': '[{"prefix":"x/","table":"t","format":"csv"}]',
      }),
      REPO,
    );
    expect(config).toMatchObject({
      clickHouseUrl: 'https://ch.prod.internal:8443',
      clickHouseSecretArn: REAL_SECRET,
      reservedConcurrency: 3,
      routes: [{ prefix: 'x/', table: 't', format: 'csv' }],
    });
    expect(usesPlaceholders(config)).toBe(false);
  });

  it('works from context alone, without a file', () => {
    const config = readAppConfig(
      context({
        'chute:clickHouseUrl': 'https://ch.prod.internal:8443',
        'chute:clickHouseSecretArn': REAL_SECRET,
        'chute:routes': [{ prefix: 'x/', table: 't', format: 'csv' }],
      }),
    );
    expect(config.stackName).toBe('Chute');
  });

  it('names a missing required value and how to set it', () => {
    expect(() =>
      readAppConfig(
        context({ 'chute:configFile': configFile({ clickHouseUrl: 'https://x', routes: [{}] }) }),
      ),
    ).toThrow(/clickHouseSecretArn: .*Set values in the config file or with -c chute:<key>=<value>/);
  });

  it('names a bad secret ARN, an unknown key, a missing file and broken JSON', () => {
    const base = { clickHouseUrl: 'https://x', routes: [{ prefix: 'a/' }] };
    expect(() =>
      readAppConfig(
        context({ 'chute:configFile': configFile({ ...base, clickHouseSecretArn: 'chute/clickhouse' }) }),
      ),
    ).toThrow('clickHouseSecretArn: must be a Secrets Manager secret ARN');
    expect(() =>
      readAppConfig(
        context({
          'chute:configFile': configFile({ ...base, clickHouseSecretArn: REAL_SECRET, bukcet: 'typo' }),
        }),
      ),
    ).toThrow(/Unrecognized key.*bukcet/);
    expect(() => readAppConfig(context({ 'chute:configFile': '/nonexistent/chute.json' }))).toThrow(
      'Config file /nonexistent/chute.json (context chute:configFile) does not exist',
    );
    expect(() => readAppConfig(context({ 'chute:configFile': configFile('{ not json') }))).toThrow(
      /is not valid JSON/,
    );
  });
});

describe('the ready app (what `cdk synth` builds)', { timeout: 60_000 }, () => {
  it('synthesizes the example configuration with cdk-nag passing, and warns about the placeholders', () => {
    const { app, stack } = createChuteApp(appProps(), REPO);
    expect(() => app.synth()).not.toThrow();
    Annotations.fromStack(stack).hasWarning(
      '/Chute',
      Match.stringLikeRegexp('ClickHouse URL or secret ARN is still the example placeholder'),
    );
    const template = Template.fromStack(stack);
    for (const output of [
      'BucketName',
      'FunctionName',
      'FunctionLogGroup',
      'FailureQueueUrl',
      'AlarmTopicArn',
      'DashboardName',
    ]) {
      template.hasOutput(output, Match.anyValue());
    }
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
  });

  it('deploys a real configuration without warnings: partial secret ARN, existing bucket, alarm e-mail', () => {
    const { app, stack } = createChuteApp(
      appProps({
        'chute:stackName': 'ChuteProd',
        'chute:clickHouseUrl': 'https://ch.prod.internal:8443',
        'chute:clickHouseSecretArn': 'arn:aws:secretsmanager:eu-west-1:210987654321:secret:prod/clickhouse',
        'chute:existingBucketName': 'landing-zone-prod',
        'chute:alarmEmail': 'data-oncall@example.com',
        'chute:noFilesLoadedForHours': '6',
        'chute:account': '210987654321',
        'chute:region': 'eu-west-1',
      }),
      REPO,
    );
    expect(() => app.synth()).not.toThrow();
    expect(stack.stackName).toBe('ChuteProd');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
            Resource: 'arn:aws:secretsmanager:eu-west-1:210987654321:secret:prod/clickhouse-??????',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'data-oncall@example.com' });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 13);
    Annotations.fromStack(stack).hasNoWarning('/ChuteProd', Match.stringLikeRegexp('placeholder'));
  });

  it('fails synth on a bad route in the config, naming it', () => {
    expect(() =>
      createChuteApp(
        appProps({
          'chute:routes':
            '[{"prefix":"a/","table":"t","format":"csv"},{"prefix":"a/b/","table":"u","format":"csv"}]',
        }),
        REPO,
      ),
    ).toThrow(
      'routes[0] "a/" (prefix "a/", any suffix) overlaps routes[1] "a/b/" (prefix "a/b/", any suffix)',
    );
  });
});

describe('context values', () => {
  it('keep account ids and other strings as strings, and refuse broken JSON for JSON-valued keys', () => {
    const config = readAppConfig(
      context({
        'chute:clickHouseUrl': 'https://ch.prod.internal:8443',
        'chute:clickHouseSecretArn': REAL_SECRET,
        'chute:routes': '[{"prefix":"x/","table":"t","format":"csv"}]',
        'chute:account': '012345678901',
      }),
    );
    expect(config.account).toBe('012345678901');
    expect(() =>
      readAppConfig(
        context({
          'chute:clickHouseUrl': 'https://x',
          'chute:clickHouseSecretArn': REAL_SECRET,
          'chute:routes': '[{"prefix":',
        }),
      ),
    ).toThrow('Invalid context chute:routes: not valid JSON');
  });

  it('reads -c chute:verifyS3Checksums=false as a boolean, and hands it to the construct', () => {
    const values = {
      'chute:clickHouseUrl': 'https://ch.prod.internal:8443',
      'chute:clickHouseSecretArn': REAL_SECRET,
      'chute:routes': '[{"prefix":"x/","table":"t","format":"csv"}]',
    };
    expect(readAppConfig(context({ ...values, 'chute:verifyS3Checksums': 'false' })).verifyS3Checksums).toBe(
      false,
    );
    expect(readAppConfig(context(values)).verifyS3Checksums).toBeUndefined();
    const { stack } = createChuteApp(appProps({ ...values, 'chute:verifyS3Checksums': 'false' }), REPO);
    expect(stack.ingest.config.s3).toEqual({ verifyChecksums: false });
  });
});
