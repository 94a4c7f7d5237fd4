import { describe, expect, it } from 'vitest';
import { parseRoute } from '../../functions/core/config/parse.ts';
import type { Route } from '../../functions/core/config/schema.ts';
import { ChuteError } from '../../functions/core/errors.ts';
import { planColumns } from '../../functions/core/pipeline/column-plan.ts';
import type { TableColumn } from '../../functions/core/ports/warehouse.ts';
import { MODERN_SERVER as MODERN, OLD_SERVER as OLD } from '../fixtures/capabilities.ts';

const WHERE = 's3://landing/in/file.csv';

function column(name: string, type: string, defaultKind = ''): TableColumn {
  return { name, type, defaultKind };
}

const TABLE: readonly TableColumn[] = [
  column('id', 'UInt64'),
  column('name', 'String'),
  column('amount', 'Decimal(18, 2)'),
];

function route(fields: Record<string, unknown> = {}): Route {
  return parseRoute({ prefix: 'in/', table: 'events', format: 'csv', ...fields });
}

function planError(fn: () => unknown): ChuteError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ChuteError) return error;
    throw new Error(`expected a ChuteError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a ChuteError, nothing was thrown');
}

describe('planColumns, exact matches', () => {
  it('sends CSV with the file’s column order', () => {
    const plan = planColumns(route(), ['amount', 'id', 'name'], TABLE, MODERN, WHERE);
    expect(plan).toEqual({
      format: 'CSV',
      columns: ['amount', 'id', 'name'],
      repeatHeader: false,
      ignored: [],
      settings: {},
    });
  });

  it('sends TSV as TabSeparated', () => {
    const plan = planColumns(route({ format: 'tsv' }), ['id', 'name', 'amount'], TABLE, MODERN, WHERE);
    expect(plan.format).toBe('TabSeparated');
    expect(plan.columns).toEqual(['id', 'name', 'amount']);
    expect(plan.repeatHeader).toBe(false);
  });

  it('does not need header matching when nothing is ignored', () => {
    const plan = planColumns(route({ extraColumns: 'ignore' }), ['id', 'name', 'amount'], TABLE, OLD, WHERE);
    expect(plan.format).toBe('CSV');
    expect(plan.ignored).toEqual([]);
  });

  it('sends NDJSON as JSONEachRow, matching by name, with unknown fields refused or skipped', () => {
    const strict = planColumns(route({ format: 'ndjson' }), ['name', 'id', 'amount'], TABLE, MODERN, WHERE);
    expect(strict).toEqual({
      format: 'JSONEachRow',
      columns: undefined,
      repeatHeader: false,
      ignored: [],
      settings: { input_format_skip_unknown_fields: 0 },
    });
    const lenient = planColumns(
      route({ format: 'ndjson', extraColumns: 'ignore' }),
      ['name', 'id', 'amount', 'extra'],
      TABLE,
      OLD,
      WHERE,
    );
    expect(lenient).toEqual({
      format: 'JSONEachRow',
      columns: undefined,
      repeatHeader: false,
      ignored: ['extra'],
      settings: { input_format_skip_unknown_fields: 1 },
    });
  });
});

describe('planColumns, extra columns', () => {
  it('fails on a column the table lacks, naming it and suggesting extraColumns: "ignore"', () => {
    const error = planError(() =>
      planColumns(route(), ['id', 'name', 'amount', 'colour'], TABLE, MODERN, WHERE),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain(WHERE);
    expect(error.message).toContain('"colour"');
    expect(error.message).toContain('events');
    expect(error.message).toContain('"id", "name", "amount"');
    expect(error.message).toContain('extraColumns: "ignore"');
  });

  it('fails on an extra NDJSON key when extraColumns is fail', () => {
    const error = planError(() =>
      planColumns(route({ format: 'ndjson' }), ['id', 'name', 'amount', 'x'], TABLE, MODERN, WHERE),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain('"x"');
  });

  it('lists at most ten unknown columns and counts the rest', () => {
    const extra = Array.from({ length: 13 }, (_, i) => `x${i}`);
    const error = planError(() =>
      planColumns(route(), ['id', 'name', 'amount', ...extra], TABLE, MODERN, WHERE),
    );
    expect(error.message).toContain('"x9" and 3 more');
    expect(error.message).not.toContain('"x10"');
  });

  it('ignores extra CSV columns by header name on a server that can', () => {
    const plan = planColumns(
      route({ extraColumns: 'ignore' }),
      ['id', 'colour', 'name', 'amount', 'size'],
      TABLE,
      MODERN,
      WHERE,
    );
    expect(plan).toEqual({
      format: 'CSVWithNames',
      columns: undefined,
      repeatHeader: true,
      ignored: ['colour', 'size'],
      settings: { input_format_with_names_use_header: 1, input_format_skip_unknown_fields: 1 },
    });
  });

  it('ignores extra TSV columns with TabSeparatedWithNames', () => {
    const plan = planColumns(
      route({ format: 'tsv', extraColumns: 'ignore' }),
      ['id', 'name', 'amount', 'extra'],
      TABLE,
      MODERN,
      WHERE,
    );
    expect(plan.format).toBe('TabSeparatedWithNames');
    expect(plan.repeatHeader).toBe(true);
    expect(plan.ignored).toEqual(['extra']);
  });

  it('fails on a server without header matching, naming its version', () => {
    const error = planError(() =>
      planColumns(route({ extraColumns: 'ignore' }), ['id', 'name', 'amount', 'extra'], TABLE, OLD, WHERE),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain('ClickHouse 18.16.1');
    expect(error.message).toContain('"extra"');
  });
});

describe('planColumns, missing columns', () => {
  it('fails when a non-nullable column without default is missing', () => {
    const error = planError(() => planColumns(route(), ['id', 'name'], TABLE, MODERN, WHERE));
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain('"amount"');
    expect(error.message).toContain('(no default)');
  });

  it('names every missing column', () => {
    const error = planError(() => planColumns(route(), ['id'], TABLE, MODERN, WHERE));
    expect(error.message).toContain('"name", "amount"');
  });

  it('accepts a missing Nullable column and a missing DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL column', () => {
    const table = [
      column('id', 'UInt64'),
      column('note', 'Nullable(String)'),
      column('day', 'Date', 'DEFAULT'),
      column('total', 'UInt64', 'MATERIALIZED'),
      column('label', 'String', 'ALIAS'),
      column('raw', 'String', 'EPHEMERAL'),
    ];
    const plan = planColumns(route(), ['id'], table, MODERN, WHERE);
    expect(plan.format).toBe('CSV');
    expect(plan.columns).toEqual(['id']);
  });

  it('accepts a missing LowCardinality(Nullable) column, which is filled with NULL like a Nullable one', () => {
    const table = [column('id', 'UInt64'), column('tag', 'LowCardinality(Nullable(String))')];
    const plan = planColumns(route(), ['id'], table, MODERN, WHERE);
    expect(plan.columns).toEqual(['id']);
  });

  it('checks missing columns for NDJSON too', () => {
    const error = planError(() => planColumns(route({ format: 'ndjson' }), ['id'], TABLE, MODERN, WHERE));
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain('"name", "amount"');
  });
});

describe('planColumns, computed columns in the file', () => {
  it.each(['MATERIALIZED', 'ALIAS'])('refuses a %s column in the file, naming it', (kind) => {
    const table = [...TABLE, column('computed', 'UInt64', kind)];
    const error = planError(() =>
      planColumns(
        route({ extraColumns: 'ignore' }),
        ['id', 'name', 'amount', 'computed'],
        table,
        MODERN,
        WHERE,
      ),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain(`column "computed" is ${kind} in events`);
  });

  it('accepts DEFAULT and EPHEMERAL columns in the file', () => {
    const table = [...TABLE, column('day', 'Date', 'DEFAULT'), column('raw', 'String', 'EPHEMERAL')];
    const plan = planColumns(route(), ['id', 'name', 'amount', 'day', 'raw'], table, MODERN, WHERE);
    expect(plan.columns).toEqual(['id', 'name', 'amount', 'day', 'raw']);
  });
});
