import { describe, expect, it } from 'vitest';
import { STRICT_TEXT_SETTINGS } from '../../functions/core/clickhouse/warehouse.ts';
import { parseConfig, parseRoute } from '../../functions/core/config/parse.ts';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { planColumns } from '../../functions/core/pipeline/column-plan.ts';
import { insertTarget } from '../../functions/core/pipeline/insert-target.ts';
import type { ServerCapabilities, TableColumn, Warehouse } from '../../functions/core/ports/warehouse.ts';
import { MODERN_SERVER, OLD_SERVER } from '../fixtures/capabilities.ts';

const TABLE: readonly TableColumn[] = [
  { name: 'id', type: 'UInt64', defaultKind: '' },
  { name: 'name', type: 'String', defaultKind: '' },
];
const CHUNKING = parseConfig({
  clickhouse: { url: 'http://127.0.0.1:8123' },
  routes: [{ prefix: 'in/', table: 't', format: 'csv' }],
}).chunking;
/** insertTarget only keeps the warehouse to insert through later; nothing here inserts. */
const NO_WAREHOUSE = {} as Warehouse;

function settingsFor(format: DataFormat, capabilities: ServerCapabilities) {
  const route = parseRoute({ prefix: 'in/', table: 't', format });
  const plan = planColumns(route, ['id', 'name'], TABLE, capabilities, 's3://b/in/x');
  const version = { bucket: 'b', key: 'in/x', version: 'v1' };
  return insertTarget(
    NO_WAREHOUSE,
    { database: 'db', table: 't' },
    plan,
    route,
    capabilities,
    CHUNKING,
    version,
    TABLE,
    'cut',
  ).settings;
}

describe('insert settings', () => {
  it.each(['csv', 'tsv'] as const)(
    'turn off, for %s on a server that has them, every setting that lets rows be dropped, invented or re-split',
    (format) => {
      const settings = settingsFor(format, MODERN_SERVER);
      for (const name of STRICT_TEXT_SETTINGS) expect(settings[name]).toBe(0);
      expect(settings).toMatchObject({
        input_format_allow_errors_num: 0,
        input_format_allow_errors_ratio: 0,
      });
    },
  );

  it('name none of them where the server lacks them (18.16 would refuse an unknown setting) or for NDJSON', () => {
    for (const settings of [settingsFor('csv', OLD_SERVER), settingsFor('ndjson', MODERN_SERVER)]) {
      for (const name of STRICT_TEXT_SETTINGS) expect(settings).not.toHaveProperty(name);
    }
  });
});
