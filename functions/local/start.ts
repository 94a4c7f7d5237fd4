import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../core/adapters/s3-client.ts';
import { describeError } from '../core/errors.ts';
import { DEMO_TABLE, LOCAL_BUCKET, startLocal } from './local-runner.ts';

const SAMPLE = fileURLToPath(new URL('./samples/orders.csv', import.meta.url));
const env = process.env;

const local = await startLocal({
  dataDir: env.CHUTE_LOCAL_DIR ?? '.local',
  s3Port: Number(env.CHUTE_LOCAL_S3_PORT ?? 4569),
  queryPort: Number(env.CHUTE_LOCAL_QUERY_PORT ?? 8124),
  clickhouseUrl: env.CLICKHOUSE_URL || undefined,
  configJson: env.CHUTE_CONFIG || undefined,
  onFile: (summary) => {
    const head = `${summary.status}: s3://${summary.bucket}/${summary.key} → ${summary.table}`;
    const figures = `${summary.rowsInserted} rows inserted, ${summary.rowsRejected} rejected, ${summary.durationMs} ms`;
    console.log(`${head}: ${figures}`);
    if (summary.rejectsLocation) console.log(`  rejected rows: ${summary.rejectsLocation}`);
    if (summary.reason) console.log(`  reason: ${summary.reason}`);
  },
  onSkip: (key, why) => console.log(`skipped: ${key}: ${why}`),
  onError: (error) =>
    console.log(`  the Lambda would fail this invocation and be retried: ${describeError(error)}`),
});

// Ctrl-C lets the file being loaded finish, so the engine never closes under an insert; a second one stops at once.
let stopping: Promise<void> | undefined;
const stop = () => {
  if (stopping !== undefined) process.exit(130);
  console.log('\nStopping once the file being loaded is done (Ctrl-C again to stop at once)…');
  stopping = local.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const query = (sql: string) =>
  local.queryUrl
    ? `curl '${local.queryUrl}/?query=${encodeURIComponent(sql)}'`
    : `clickhouse-client --query "${sql}"   (or your server's HTTP interface)`;
const routes = local.config.routes.map(
  (r) => `    s3://${LOCAL_BUCKET}/${r.prefix}…${r.suffix ?? ''} → ${r.table} (${r.format})`,
);
// The sample and the demo table go together: with the user's own routes (in CHUTE_CONFIG), neither.
const { demo } = local;
const firstPrefix = local.config.routes[0]?.prefix ?? '';

console.log(`
chute is running locally — the same event handling as the Lambda.
  S3 (s3rver):  ${local.s3Endpoint}   bucket: ${LOCAL_BUCKET}
  ClickHouse:   ${local.engine}
  routes:
${routes.join('\n')}

Drop a file in (any of these):
  curl -X PUT --data-binary @${demo ? SAMPLE : 'FILE'} ${local.s3Endpoint}/${LOCAL_BUCKET}/${firstPrefix}${demo ? 'my-orders.csv' : 'NAME'}
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${local.s3Endpoint} s3 cp FILE s3://${LOCAL_BUCKET}/${firstPrefix}
${
  demo
    ? `
See the rows:
  ${query(`SELECT count() FROM ${DEMO_TABLE}`)}
  ${query(`SELECT * FROM ${DEMO_TABLE} ORDER BY order_id LIMIT 5`)}

Dropping the sample now (1000 rows, one of them bad on purpose)…`
    : `
See the rows: ${query('SELECT count() FROM <your table>')}`
}`);

if (demo) {
  const s3 = createS3Client({
    endpoint: local.s3Endpoint,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await s3.send(
    new PutObjectCommand({
      Bucket: LOCAL_BUCKET,
      Key: `${firstPrefix}sample-orders.csv`,
      Body: readFileSync(SAMPLE),
    }),
  );
  s3.destroy();
  await local.idle();
}
if (stopping === undefined) {
  console.log('\nWaiting for files. Ctrl-C stops.');
  if (env.CHUTE_LOCAL_EXIT_WHEN_IDLE) stop();
}
