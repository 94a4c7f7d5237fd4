import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { type IRole, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ChuteError } from '../functions/core/errors.ts';
import { DEFAULT_HEADROOM_MS } from '../functions/core/pipeline/preflight.ts';
import { FUNCTION_NODE_OPTIONS } from '../functions/ingest/node-options.ts';

/** The repository root: bundling resolves the entry, lock file and tsconfig from here, whatever the cwd. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda handler this package ships. */
export const DEFAULT_ENTRY = fileURLToPath(new URL('../functions/ingest/handler.ts', import.meta.url));

/** Lambda runtimes chute is built and tested for. */
export const SUPPORTED_RUNTIMES: readonly Runtime[] = [Runtime.NODEJS_24_X, Runtime.NODEJS_22_X];

/**
 * 1024 MB: the streaming loader holds one 16 MiB chunk (two once rows of a CSV or TSV file are refused, or under
 * badRows.policy fail) plus records of
 * at most 1 MiB, and peaks near 100 MB RSS in the bench; 1024 MB leaves room for the SDK, a rejects buffer and GC, and
 * buys about 0.6 vCPU (Lambda scales CPU and network with memory; 1769 MB is one full vCPU).
 */
export const DEFAULT_MEMORY_MB = 1024;

/**
 * 15 minutes, Lambda's maximum: a file is loaded in one invocation, and a timeout costs a retry of the
 * whole file. The duration alarm warns when p99 nears it, long before files start failing.
 */
export const DEFAULT_TIMEOUT = Duration.minutes(15);

/**
 * 5 concurrent loads: with 4 sockets each that is at most 20 connections and a handful of inserts per
 * second against ClickHouse, which wants about one insert per second per table. Events beyond it wait in
 * Lambda's asynchronous queue (retried for up to the maximum event age), they are not lost.
 */
export const DEFAULT_RESERVED_CONCURRENCY = 5;

/** One month of function logs: enough to investigate a failure reported by the weekly review. */
export const DEFAULT_LOG_RETENTION = RetentionDays.ONE_MONTH;

/** esbuild's ESM output has no `require`; some dependencies still call it for Node built-ins. */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __chuteCreateRequire } from 'node:module'; const require = __chuteCreateRequire(import.meta.url);";

export interface IngestFunctionProps
  extends Omit<
    NodejsFunctionProps,
    'runtime' | 'architecture' | 'logGroup' | 'logRetention' | 'entry' | 'handler' | 'loggingFormat'
  > {
  /**
   * The handler file (TypeScript), exporting `handler`.
   * @default functions/ingest/handler.ts of this package
   */
  readonly entry?: string;
  /**
   * Node.js runtime: 22 or 24 (anything else fails synth).
   * @default Runtime.NODEJS_24_X
   */
  readonly runtime?: Runtime;
  /**
   * How long the function's log group keeps logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN (logs outlive the stack, for the post-mortem)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * chute's Lambda: a NodejsFunction with the defaults fixed once (in the manner of Powertools'
 * `FunctionWithLogGroup`): Node.js 24 on ARM64, bundled by the local esbuild (minified ESM with a source map,
 * the AWS SDK included so the deployed code is the tested code, no Docker), an explicit log group with
 * retention, X-Ray active tracing, and the memory, timeout and concurrency defaults documented above.
 */
export class IngestFunction extends NodejsFunction {
  /** The function's log group (also where the memory metric filter reads `REPORT` lines). */
  readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: IngestFunctionProps = {}) {
    const runtime = props.runtime ?? Runtime.NODEJS_24_X;
    if (!SUPPORTED_RUNTIMES.some((supported) => supported.runtimeEquals(runtime))) {
      throw new ChuteError(
        'CONFIG_INVALID',
        `Invalid ${id} props: runtime ${runtime.name} is not supported; use Runtime.NODEJS_24_X or Runtime.NODEJS_22_X`,
      );
    }
    const memorySize = props.memorySize ?? DEFAULT_MEMORY_MB;
    if (
      !Token.isUnresolved(memorySize) &&
      (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240)
    ) {
      throw new ChuteError(
        'CONFIG_INVALID',
        `Invalid ${id} props: memorySize ${memorySize} must be a whole number of MB from 128 to 10240`,
      );
    }
    const timeout = props.timeout ?? DEFAULT_TIMEOUT;
    // Below twice the headroom (no chunk starts with less left), a file would have no time for a single chunk.
    const shortest = (2 * DEFAULT_HEADROOM_MS) / 1000;
    if (!timeout.isUnresolved() && (timeout.toSeconds() < shortest || timeout.toSeconds() > 900)) {
      throw new ChuteError(
        'CONFIG_INVALID',
        `Invalid ${id} props: timeout ${timeout.toHumanString()} must be from ${shortest} seconds to 15 minutes (no chunk starts with less than ${DEFAULT_HEADROOM_MS / 1000} s left)`,
      );
    }
    const reserved = props.reservedConcurrentExecutions ?? DEFAULT_RESERVED_CONCURRENCY;
    if (!Number.isInteger(reserved) || reserved < 1) {
      throw new ChuteError(
        'CONFIG_INVALID',
        `Invalid ${id} props: reservedConcurrency ${reserved} must be a whole number >= 1 (it caps the loads running against ClickHouse at once; unreserved concurrency cannot protect ClickHouse)`,
      );
    }

    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? DEFAULT_LOG_RETENTION,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // An execution role without the AWSLambdaBasicExecutionRole managed policy (logs in every log group):
    // this function may write to its own log group and nothing else by default.
    const role: IRole =
      props.role ??
      new Role(scope, `${id}Role`, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${id} (chute)`,
      });
    logGroup.grantWrite(role);

    const { bundling, environment, logRetention: _retention, logRemovalPolicy: _removal, ...rest } = props;
    super(scope, id, {
      tracing: Tracing.ACTIVE,
      description: 'chute: loads files dropped into S3 into ClickHouse',
      ...rest,
      role,
      entry: props.entry ?? DEFAULT_ENTRY,
      handler: 'handler',
      runtime,
      architecture: Architecture.ARM_64,
      memorySize,
      timeout,
      reservedConcurrentExecutions: reserved,
      logGroup,
      // Plain text: the function's own EMF and JSON log lines pass through untouched, and the platform's
      // REPORT line keeps the documented layout the memory metric filter parses.
      loggingFormat: LoggingFormat.TEXT,
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      depsLockFilePath: props.depsLockFilePath ?? `${PROJECT_ROOT}package-lock.json`,
      environment: {
        NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
        ...environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_SHIM,
        bundleAwsSDK: true,
        forceDockerBundling: false,
        tsconfig: `${PROJECT_ROOT}tsconfig.json`,
        ...bundling,
      },
    });
    this.functionLogGroup = logGroup;
  }
}
