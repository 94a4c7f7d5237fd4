import type { ChuteRun } from './chute.ts';
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

export interface Verdict {
  failures: string[];
  /** Bad rows found in the rejects object(s) at their own line. */
  rejectsFound: number;
}

export async function verifyChute(env: BenchEnv, run: ChuteRun, expected: Expected): Promise<Verdict> {
  const failures = [...run.run.errors.map((error) => `handler threw: ${error}`)];
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
  const count = await tableCount(env, expected.table);
  if (count !== expected.cleanRows)
    failures.push(`table holds ${count} rows, expected ${expected.cleanRows}`);

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
): Promise<string[]> {
  const failures = errors.slice(0, 3).map((error) => `POST failed: ${error}`);
  if (errors.length > 3) failures.push(`… and ${errors.length - 3} more failed POSTs`);
  const count = await tableCount(env, expected.table);
  if (count !== expected.cleanRows)
    failures.push(`table holds ${count} rows, expected ${expected.cleanRows}`);
  return failures;
}
