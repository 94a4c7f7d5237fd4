import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { FileObjectStore } from '../core/adapters/file-object-store.ts';
import { FileRejectsStore } from '../core/adapters/file-rejects-store.ts';
import { createS3Client } from '../core/adapters/s3-client.ts';
import { S3ObjectStore } from '../core/adapters/s3-object-store.ts';
import { S3RejectsStore } from '../core/adapters/s3-rejects-store.ts';
import { clickHouseAdapters } from '../core/clickhouse/adapters.ts';
import { createClickHouseClient, resolveConnection } from '../core/clickhouse/client.ts';
import { formatIssues } from '../core/config/parse.ts';
import { ClickHouseSchema } from '../core/config/schema.ts';
import { ChuteError, describeError, isChuteError } from '../core/errors.ts';
import { ingestObject } from '../core/pipeline/ingest-object.ts';
import {
  LOCAL_FILES,
  type ObjectRef,
  type ObjectStore,
  type RejectsStore,
} from '../core/ports/object-store.ts';
import { type IngestCommand, parseCommand } from './args.ts';
import { HELP } from './help.ts';
import { printHistory } from './history.ts';
import { progressPrinter } from './progress.ts';

function clickHouseFromEnv() {
  if (!process.env.CLICKHOUSE_URL) {
    throw new ChuteError(
      'USAGE',
      'CLICKHOUSE_URL is not set, e.g. CLICKHOUSE_URL=http://default:@127.0.0.1:8123/default',
    );
  }
  const parsed = ClickHouseSchema.safeParse({
    url: process.env.CLICKHOUSE_URL,
    username: process.env.CLICKHOUSE_USER || undefined,
    password: process.env.CLICKHOUSE_PASSWORD,
    database: process.env.CLICKHOUSE_DATABASE || undefined,
  });
  if (!parsed.success) throw new ChuteError('USAGE', `invalid connection: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

async function ingest(command: IngestCommand): Promise<number> {
  const clickhouse = clickHouseFromEnv();
  const client = createClickHouseClient(clickhouse);
  let objects: ObjectStore;
  let rejects: RejectsStore;
  let ref: ObjectRef;
  if (command.source.kind === 'file') {
    const path = resolve(command.source.path);
    objects = new FileObjectStore();
    rejects = new FileRejectsStore(command.rejects ?? `${path}.rejects.ndjson`);
    ref = { bucket: LOCAL_FILES, key: path };
  } else {
    const s3 = createS3Client({ endpoint: command.s3Endpoint });
    objects = new S3ObjectStore(s3);
    const target = /^s3:\/\/([^/]+)\/(.*)$/.exec(command.rejects ?? '');
    rejects = target
      ? new S3RejectsStore(s3, target[2] ?? '', target[1])
      : new S3RejectsStore(s3, 'chute-rejects/');
    ref = { bucket: command.source.bucket, key: command.source.key, versionId: command.versionId };
  }
  const defaultDatabase = resolveConnection(clickhouse).database;
  const { warehouse, ledger } = clickHouseAdapters(
    client,
    command.ledger ?? 'chute_load_history',
    defaultDatabase,
  );
  const adapters = { warehouse, ledger: command.ledger === undefined ? undefined : ledger };
  try {
    const summary = await ingestObject(
      {
        objects,
        ...adapters,
        rejects,
        defaultDatabase,
        chunking: command.chunking,
        requestTimeoutMs: clickhouse.requestTimeoutMs,
      },
      command.route,
      ref,
      { onProgress: command.quiet ? undefined : progressPrinter(ref.key) },
    );
    if (summary.status === 'skipped' && command.source.kind === 'file' && !existsSync(ref.key)) {
      summary.status = 'failed';
      summary.reason = `${command.source.path}: no such file`;
    }
    process.stdout.write(`${JSON.stringify({ message: 'file summary', ...summary })}\n`);
    if (summary.status === 'failed') {
      process.stderr.write(`chute: failed: ${summary.reason}\n`);
      return 1;
    }
    if (summary.status === 'skipped') process.stderr.write(`chute: skipped: ${summary.reason}\n`);
    if (summary.deliveryNote) process.stderr.write(`chute: at-least-once: ${summary.deliveryNote}\n`);
    if (summary.rowsRejected > 0) {
      process.stderr.write(
        `chute: ${summary.rowsRejected} row(s) rejected, see ${summary.rejectsLocation}\n`,
      );
    }
    return 0;
  } finally {
    await client.close();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const command = parseCommand(argv);
    if (command.command === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    if (command.command === 'history') {
      const clickhouse = clickHouseFromEnv();
      const client = createClickHouseClient(clickhouse);
      try {
        return await printHistory(client, command, resolveConnection(clickhouse).database);
      } finally {
        await client.close();
      }
    }
    return await ingest(command);
  } catch (error) {
    process.stderr.write(`chute: ${describeError(error)}\n`);
    return isChuteError(error, 'USAGE') || isChuteError(error, 'CONFIG_INVALID') ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
