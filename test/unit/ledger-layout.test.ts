import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { ledgerTables, prepareLedger } from '../../functions/core/clickhouse/ledger-layout.ts';

/**
 * Which failures of the ledger's preparation are tried again. The SQL itself runs against both real engines
 * in test/integration/ledger-layout.test.ts; this fake only stands in for a server that refuses a statement.
 */
function fakeClient(refuse: (query: string, call: number) => Error | undefined) {
  const statements: string[] = [];
  const client = {
    async command({ query }: { query: string }) {
      statements.push(query);
      const error = refuse(query, statements.length);
      if (error !== undefined) throw error;
      return {};
    },
    async query({ query }: { query: string }) {
      statements.push(query);
      // The views exist once they have been created: nothing to retire, nothing more to make.
      const made = statements.some((statement) => statement.startsWith('CREATE VIEW'));
      const rows = made
        ? [
            { name: 'h', engine: 'View' },
            { name: 'h_chunks', engine: 'View' },
          ]
        : [];
      return { json: async () => rows };
    },
  };
  return { client: client as unknown as ClickHouseClient, statements };
}

const tables = ledgerTables({ database: 'default', table: 'h' });
const creatingLog = (query: string) => query.startsWith('CREATE TABLE IF NOT EXISTS `default`.`h_log`');

describe('preparing the load history', () => {
  it("tries again when 18.16 refuses a CREATE because another container's is under way", async () => {
    let refused = 0;
    const { client, statements } = fakeClient((query) => {
      if (creatingLog(query) && refused++ === 0) {
        return new Error('Code: 57. DB::Exception: Table default.h_log is creating or attaching right now');
      }
      return undefined;
    });
    await expect(prepareLedger(client, tables)).resolves.toEqual({ history: undefined, chunks: undefined });
    expect(statements.filter(creatingLog)).toHaveLength(2);
    expect(statements.filter((statement) => statement.startsWith('CREATE VIEW'))).toHaveLength(2);
  });

  it('fails at once on any other refusal (a missing grant is not worth waiting for)', async () => {
    const { client, statements } = fakeClient((query) =>
      creatingLog(query) ? new Error('Code: 497. DB::Exception: Not enough privileges') : undefined,
    );
    await expect(prepareLedger(client, tables)).rejects.toThrow(/Not enough privileges/);
    expect(statements.filter(creatingLog)).toHaveLength(1);
  });
});
