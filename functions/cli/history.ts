import type { ClickHouseClient } from '@clickhouse/client';
import { parseTableName, quoteString, quoteTable } from '../core/clickhouse/sql.ts';
import { objectLabel } from '../core/ports/object-store.ts';
import type { HistoryCommand } from './args.ts';

interface HistoryRow {
  finished: string;
  status: string;
  attempt: number;
  bucket: string;
  key: string;
  version: string;
  table: string;
  rows_inserted: string;
  rows_rejected: string;
  delivery: string;
  error: string;
  rejects_location: string;
}

/** `chute history`: the load history, newest first, as a table or as JSON lines. */
export async function printHistory(
  client: ClickHouseClient,
  command: HistoryCommand,
  defaultDatabase: string,
): Promise<number> {
  const filters: string[] = [];
  if (command.failedOnly) filters.push("status IN ('failed', 'rejected-file')");
  if (command.since !== undefined) {
    filters.push(
      `finished >= toDateTime(${quoteString(command.since.toISOString().slice(0, 19).replace('T', ' '))}, 'UTC')`,
    );
  }
  if (command.key !== undefined) filters.push(`startsWith(key, ${quoteString(command.key)})`);
  const table = quoteTable(parseTableName(command.ledger, defaultDatabase));
  const result = await client.query({
    query: `SELECT finished, status, attempt, bucket, key, version, table, rows_inserted, rows_rejected, delivery, error,
                   rejects_location
            FROM ${table} ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
            ORDER BY finished DESC, attempt DESC LIMIT ${command.limit}`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<HistoryRow>();
  if (command.json) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no loads recorded for this filter\n');
    return 0;
  }
  const header = [
    'finished (UTC)',
    'status',
    'try',
    'object',
    'version',
    'table',
    'inserted',
    'rejected',
    'error / rejects',
  ];
  const lines = rows.map((row) => [
    row.finished,
    row.status,
    String(row.attempt),
    objectLabel(row.bucket, row.key),
    row.version.length > 16 ? `${row.version.slice(0, 15)}…` : row.version,
    row.table,
    row.rows_inserted,
    row.rows_rejected,
    (row.error || row.rejects_location).slice(0, 100),
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...lines.map((line) => (line[i] ?? '').length)),
  );
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${format(header)}\n${lines.map(format).join('\n')}\n`);
  return 0;
}
