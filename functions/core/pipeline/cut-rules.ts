import { fieldDelimiter } from '../config/routes.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import type { CommittedChunk } from '../ports/ledger.ts';

/**
 * Bumped whenever the scanner or the chunk assembler changes where a record or a chunk ends (as the TSV
 * escaped line feed fix did), or what a chunk's inserts carry as deduplication tokens or rows (2: a whole
 * chunk's token no longer names its row count; 3: a CSV quote after spaces or tabs opens a field, as ClickHouse
 * reads it, so records end elsewhere; and the row screen, which decides the rows a screened insert leaves out
 * and so its token, takes out fewer rows and screens before the first insert under exactly-once too; 4: a record
 * over maxRecordBytes loses its first line alone, wherever reads split it, a CRLF blank line split between two
 * reads is a blank line, and blank lines and rejected records count toward a chunk's limits): a retry
 * by a newer chute must not trust chunk numbers an older one recorded, nor resend a chunk with a token or rows
 * the older one did not use.
 */
const CUT_RULES_VERSION = 4;

/**
 * Everything that decides which rows chunk N holds, as text: a retry may skip a chunk an earlier attempt
 * committed only if the object is cut by the same rules, or the chunk numbers name different rows (rows
 * skipped, or loaded twice with tokens that no longer match).
 */
export function cutSignature(route: Route, chunking: ChunkingConfig, nullText = '\\N'): string {
  // Not the repeated header line: chunk limits count the records alone, so it moves no boundary.
  return [
    `rules=${CUT_RULES_VERSION}`,
    `format=${route.format}`,
    `delimiter=${JSON.stringify(fieldDelimiter(route))}`,
    `header=${route.header}`,
    `maxBytes=${chunking.maxBytes}`,
    `maxRows=${chunking.maxRows}`,
    `maxRecordBytes=${chunking.maxRecordBytes}`,
    // The server's text for NULL decides which rows the screen may take out of a CSV or TSV chunk.
    ...(route.format === 'ndjson' ? [] : [`null=${JSON.stringify(nullText)}`]),
  ].join(' ');
}

/**
 * Refuses to resume from chunks cut by other rules. Records from before chute kept the rules (an empty
 * `cut`) are trusted, as they were then.
 */
export function checkSameCut(
  committed: ReadonlyMap<number, CommittedChunk>,
  cut: string,
  where: string,
): void {
  const other = [...committed.values()].find((chunk) => chunk.cut !== '' && chunk.cut !== cut);
  if (other === undefined) return;
  const chunks = [...committed.keys()].sort((a, b) => a - b);
  throw new ChuteError(
    'CHUNKING_CHANGED',
    `${where}: an earlier attempt committed chunk(s) ${chunks.join(', ')} cut by other rules (then: ${other.cut}; now: ${cut}), so a retry cannot tell which rows they hold. Restore the earlier chunking settings (or chute version) for this retry; or, accepting that those rows load twice, delete the object version's chunk records from the load history (the ALTER ... DELETE in the README's "The load history") and retry`,
  );
}
