import { parse } from 'csv-parse/sync';
import type { DataFormat } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';

const MAX_NAME_LENGTH = 256;

/**
 * Column names from a header record, parsed precisely (quotes, escapes) and checked before any SQL sees them.
 * `line` is the header's line in the file: blank lines before it are skipped.
 */
export function parseHeader(
  record: Buffer,
  format: DataFormat,
  delimiter: string,
  where: string,
  line = 1,
): string[] {
  let names: string[];
  if (format === 'tsv') {
    names = record.toString('utf8').split('\t').map(unescapeTsv);
  } else {
    try {
      const rows = parse(record, { delimiter, relax_quotes: false, bom: true }) as string[][];
      names = rows[0] ?? [];
    } catch (cause) {
      throw new ChuteError(
        'HEADER_INVALID',
        `${where}, line ${line}: the header is not valid CSV (${String(cause)})`,
        {
          cause,
        },
      );
    }
  }
  if (names.length === 0) names = [''];
  const seen = new Set<string>();
  names.forEach((raw, index) => {
    const name = raw.trim();
    const field = `${where}, line ${line}, header field ${index + 1}`;
    if (name === '') throw new ChuteError('HEADER_INVALID', `${field}: empty column name`);
    if (name.length > MAX_NAME_LENGTH) {
      throw new ChuteError(
        'HEADER_INVALID',
        `${field}: column name longer than ${MAX_NAME_LENGTH} characters`,
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f]/.test(name)) {
      throw new ChuteError(
        'HEADER_INVALID',
        `${field}: column name ${JSON.stringify(name)} holds control characters`,
      );
    }
    if (seen.has(name)) throw new ChuteError('HEADER_INVALID', `${field}: column "${name}" appears twice`);
    seen.add(name);
    names[index] = name;
  });
  return names;
}

function unescapeTsv(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => {
    switch (c) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case '0':
        return '\0';
      default:
        return c;
    }
  });
}
