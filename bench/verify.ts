import type { BenchEnv } from './env.ts';
import { readObjectText } from './objects.ts';
import { tableCount } from './tables.ts';

/** What a correct load leaves behind: the bench's correctness checks, which never involve timing. */
export interface Expected {
  table: string;
  files: number;
  cleanRows: number;
  /** Physical lines of the bad rows in the source file, when there is one file. */
  badLines: readonly number[];
}

/** What a load reported: each file's summary, and what was thrown. */
export interface LoadOutcome {
  readonly errors: readonly string[];
  readonly files: readonly {
    key: string;
    status: string;
    reason?: string | undefined;
    rowsInserted: number;
    rowsRejected: number;
    rejectsLocation?: string | undefined;
  }[];
}

/** Rows in the loaded table; the bench's server unless told otherwise (chDB runs in a process of its own). */
export type CountRows = (table: string) => Promise<number>;

export interface Verdict {
  failures: string[];
  /** Bad rows found in the rejects object(s) at their own line. */
  rejectsFound: number;
}

export async function verifyChute(
  env: BenchEnv,
  run: LoadOutcome,
  expected: Expected,
  count: CountRows = (table) => tableCount(env, table),
): Promise<Verdict> {
  const failures = [...run.errors.map((error) => `handler threw: ${error}`)];
  const notLoaded = run.files.filter((file) => file.status !== 'loaded');
  for (const file of notLoaded.slice(0, 3)) failures.push(`${file.key} ${file.status}: ${file.reason ?? ''}`);
  if (notLoaded.length > 3) failures.push(`… and ${notLoaded.length - 3} more files not loaded`);
  if (run.files.length !== expected.files) {
    failures.push(`${run.files.length} file summaries for ${expected.files} files`);
  }
  const inserted = run.files.reduce((sum, file) => sum + file.rowsInserted, 0);
  const rejected = run.files.reduce((sum, file) => sum + file.rowsRejected, 0);
  if (inserted !== expected.cleanRows)
    failures.push(`handler reports ${inserted} rows inserted, expected ${expected.cleanRows}`);
  if (rejected !== expected.badLines.length) {
    failures.push(`handler reports ${rejected} rows rejected, expected ${expected.badLines.length}`);
  }
  const rows = await count(expected.table);
  if (rows !== expected.cleanRows) failures.push(`table holds ${rows} rows, expected ${expected.cleanRows}`);

  let rejectsFound = 0;
  if (expected.badLines.length > 0) {
    const found = new Set<number>();
    for (const file of run.files) {
      if (file.rejectsLocation === undefined) continue;
      const text = await readObjectText(env, file.rejectsLocation);
      for (const line of text.split('\n')) {
        if (line.trim() !== '') found.add((JSON.parse(line) as { line: number }).line);
      }
    }
    const missing = expected.badLines.filter((line) => !found.has(line));
    rejectsFound = expected.badLines.length - missing.length;
    if (missing.length > 0) {
      failures.push(
        `${missing.length} of ${expected.badLines.length} bad rows missing from rejects (first at line ${missing[0]})`,
      );
    }
    const expectedSet = new Set(expected.badLines);
    const extra = [...found].filter((line) => !expectedSet.has(line));
    if (extra.length > 0) failures.push(`${extra.length} good rows in rejects (first at line ${extra[0]})`);
  }
  return { failures, rejectsFound };
}

export async function verifyCeiling(
  env: BenchEnv,
  errors: readonly string[],
  expected: Pick<Expected, 'table' | 'cleanRows'>,
  count: CountRows = (table) => tableCount(env, table),
): Promise<string[]> {
  const failures = errors.slice(0, 3).map((error) => `POST failed: ${error}`);
  if (errors.length > 3) failures.push(`… and ${errors.length - 3} more failed POSTs`);
  const rows = await count(expected.table);
  if (rows !== expected.cleanRows) failures.push(`table holds ${rows} rows, expected ${expected.cleanRows}`);
  return failures;
}
