import { readFileSync } from 'node:fs';
import { App, type AppProps, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { ChuteIngest, type ChuteIngestProps } from '../../infra/chute-ingest.ts';
import { processTempDir } from '../fixtures/temp-dir.ts';

/** The feature flags and context of the ready app (cdk.json), so tests build what `cdk synth` builds. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/** Skips NodejsFunction bundling (esbuild) in construct tests; one test bundles for real. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/**
 * Props for a test App: the cdk.json context without bundling, and an outdir of its own. Why the outdir:
 * without one the App synthesizes into a temp dir it means to delete on 'exit', which a vitest worker,
 * ended by a signal, never reaches.
 */
export function appProps(context: Record<string, unknown> = {}): AppProps & { outdir: string } {
  return {
    outdir: processTempDir('chute-cdk-'),
    context: { ...CDK_JSON_CONTEXT, ...SKIP_BUNDLING, ...context },
  };
}

export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chute/clickhouse-AbCdEf';

export const ROUTES: ChuteIngestProps['routes'] = [
  { name: 'orders', prefix: 'incoming/orders/', suffix: '.csv.gz', table: 'orders', format: 'csv' },
  { name: 'events', prefix: 'incoming/events/', table: 'analytics.events', format: 'ndjson' },
];

export interface Built {
  app: App;
  stack: Stack;
  ingest: ChuteIngest;
  template: Template;
}

/**
 * A stack holding one ChuteIngest with the given props over sensible test defaults; pass a function to
 * create props (a key, a bucket, a topic) in the same stack.
 */
export function build(
  props: Partial<ChuteIngestProps> | ((stack: Stack) => Partial<ChuteIngestProps>) = {},
  options: { context?: Record<string, unknown> } = {},
): Built {
  const app = new App(appProps(options.context));
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const ingest = new ChuteIngest(stack, 'Chute', {
    clickHouseUrl: 'https://clickhouse.internal.example:8443',
    clickHouseSecret: Secret.fromSecretCompleteArn(stack, 'Secret', SECRET_ARN),
    routes: ROUTES,
    ...(typeof props === 'function' ? props(stack) : props),
  });
  return { app, stack, ingest, template: Template.fromStack(stack) };
}

/** The single resource of a type whose properties match, as plain JSON. */
export function resourcesOfType(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}

/** The logical id of the construct's default CloudFormation resource. */
export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

/** The value, or a failure naming what was missing. */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing: ${what}`);
  return value;
}
