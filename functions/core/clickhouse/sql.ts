/**
 * Identifiers reach SQL only through here. Backquoted, with backslash and backquote escaped, any string is
 * one identifier and never code: a header such as a`; DROP TABLE x stays a (strange, missing) column name.
 */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export interface TableRef {
  readonly database: string;
  readonly table: string;
}

export function parseTableName(name: string, defaultDatabase: string): TableRef {
  const dot = name.indexOf('.');
  return dot < 0
    ? { database: defaultDatabase, table: name }
    : { database: name.slice(0, dot), table: name.slice(dot + 1) };
}

export function quoteTable(ref: TableRef): string {
  return `${quoteIdentifier(ref.database)}.${quoteIdentifier(ref.table)}`;
}

export function tableLabel(ref: TableRef): string {
  return `${ref.database}.${ref.table}`;
}

/** A string literal for SQL: single-quoted with backslash and quote escaped. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Settings as the body of a SETTINGS clause: `a = 1, b = 'x'`. Names are ClickHouse identifiers (never quoted
 * there), so anything else is refused rather than written into the query.
 */
export function settingsClause(settings: Readonly<Record<string, string | number>>): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new Error(`not a setting name: ${JSON.stringify(name)}`);
      return `${name} = ${typeof value === 'number' ? String(value) : quoteString(value)}`;
    })
    .join(', ');
}
