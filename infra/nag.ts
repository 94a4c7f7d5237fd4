import { type App, Stack, Validations } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { ChuteIngest } from './chute-ingest.ts';

/**
 * cdk-nag for chute: the AwsSolutions and Serverless packs, and every finding chute acknowledges, each with
 * its reason. This file is the only place acknowledgements are made; the tests fail on any finding that is
 * not acknowledged here.
 *
 * cdk-nag 3 runs as a CDK policy-validation plugin: `cdk synth` fails and prints a report (also written to
 * `cdk.out/validation-report.json`) when a finding is not acknowledged.
 */

/** Registers the packs on the app: AwsSolutions (general AWS practice) and Serverless (Lambda, SQS, SNS). */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

/** Why each acknowledged rule does not apply to chute. */
export const NAG_REASONS = {
  failureQueueIsTheDlq:
    "This queue is the function's on-failure destination: the dead-letter store itself, where failed events end with their error. A DLQ behind it would only move failed events away from the depth and age alarms.",
  onFailureDestinationNotDlq:
    'Failed asynchronous events go to an on-failure destination (SQS) on the EventInvokeConfig, which records the event, the error and the attempts; a DeadLetterConfig would duplicate it with less information (Serverless-LambdaAsyncFailureDestination is satisfied).',
  emailSubscription:
    'E-mail subscription of the alarm topic: SNS retries e-mail delivery itself, and an undelivered e-mail leaves the alarm in ALARM in CloudWatch; a redrive queue for notification e-mails would need an alarm of its own.',
  xrayWildcard:
    'Added by Lambda active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so their resource is *.',
  routeRead:
    'Read access to the objects one route loads: the bucket ARN, the route prefix, *, the route suffix. The wildcard is exactly the set of keys the route takes.',
  rejectsWrite:
    'Write access under the rejects prefix only, where the function writes the rows it rejected (one object per source object version).',
  secretPartialArn:
    'Secrets Manager appends 6 random characters to a secret ARN; for a secret given by partial ARN, "-??????" matches that one secret.',
  queueKeyGrant:
    "Granted by Queue.grantSendMessages so Lambda can send failed events to the KMS-encrypted failure queue; scoped to that queue's key.",
  cdkNotificationsHandler:
    "aws-cdk-lib's own BucketNotificationsHandler custom resource, which writes the bucket notification configuration at deploy time; its role uses AWSLambdaBasicExecutionRole as defined by aws-cdk-lib.",
} as const;

/** Acknowledges, with its reason, every finding chute's own design produces. Called by ChuteIngest. */
export function acknowledgeChuteNagFindings(ingest: ChuteIngest): void {
  const fn = ingest.ingestFunction;

  for (const id of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
    Validations.of(ingest.failureQueue).acknowledge({ id, reason: NAG_REASONS.failureQueueIsTheDlq });
  }
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason: NAG_REASONS.onFailureDestinationNotDlq,
  });
  for (const subscription of ingest.alarmTopic.node.children) {
    Validations.of(subscription).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason: NAG_REASONS.emailSubscription,
    });
  }

  if (ingest.ownsBucket && ingest.accessLogsDisabledReason !== undefined) {
    Validations.of(ingest.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: `Server access logs turned off (serverAccessLogs: false): ${ingest.accessLogsDisabledReason}`,
    });
  }

  // The function role's wildcards, matched finding by finding (cdk-nag 3 has no rule-wide acknowledgement).
  const role = fn.role;
  if (role !== undefined) {
    const wildcard = (resource: string, reason: string) =>
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${nagFinding(role, resource)}]`, reason });
    wildcard('*', NAG_REASONS.xrayWildcard);
    for (const resource of ingest.readResources) wildcard(resource, NAG_REASONS.routeRead);
    wildcard(ingest.rejectsResource, NAG_REASONS.rejectsWrite);
    for (const resource of policyResources(role)) {
      if (resource.includes('secret:') && resource.endsWith('-??????')) {
        wildcard(resource, NAG_REASONS.secretPartialArn);
      }
    }
    if (ingest.failureQueue.encryptionMasterKey !== undefined) {
      for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason: NAG_REASONS.queueKeyGrant,
        });
      }
    }
  }

  // The notifications custom resource is a stack-level singleton created by aws-cdk-lib.
  for (const child of Stack.of(ingest).node.children) {
    if (child.node.id.startsWith('BucketNotificationsHandler')) {
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: NAG_REASONS.cdkNotificationsHandler,
      });
    }
  }
}

/** The resources of the role's policy statements, resolved and flattened the way cdk-nag names findings. */
function policyResources(role: IConstruct): string[] {
  const policy = role.node.tryFindChild('DefaultPolicy') as
    | { document?: { toJSON(): { Statement?: unknown[] } } }
    | undefined;
  const statements = (policy?.document?.toJSON().Statement ?? []) as PolicyStatement[];
  return statements.flatMap((statement) => {
    const json = Stack.of(role).resolve(statement) as { Resource?: unknown };
    const resources = Array.isArray(json.Resource) ? json.Resource : [json.Resource];
    return resources.filter((r) => r !== undefined).map(flattenReference);
  });
}

/**
 * A wildcard finding's id as cdk-nag 3 writes it: `Resource::` and the resource with CloudFormation
 * references flattened to `<LogicalId.Attribute>` / `<LogicalId>`.
 */
export function nagFinding(scope: IConstruct, resource: string): string {
  return `Resource::${flattenReference(Stack.of(scope).resolve(resource))}`;
}

function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if ('Fn::Sub' in record) return flattenReference(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenReference(getAtt[0])}.${flattenReference(getAtt[1])}>`;
    }
    if ('Fn::ImportValue' in record) return flattenReference(record['Fn::ImportValue']);
    if ('Ref' in record) return `<${flattenReference(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
