import { describe, expect, it } from 'vitest';
import { forgetContainer, getContainer } from '../../functions/ingest/dependencies.ts';

const ENV = {
  CHUTE_CONFIG: JSON.stringify({ routes: [{ prefix: 'in/', table: 'events', format: 'csv' }] }),
  CLICKHOUSE_URL: 'http://127.0.0.1:8123',
};

describe('the container', () => {
  it('is built once and reused, until it is forgotten; then built afresh', async () => {
    const first = await getContainer(ENV);
    expect(await getContainer(ENV)).toBe(first);
    await forgetContainer();
    const second = await getContainer(ENV);
    expect(second).not.toBe(first);
    expect(second.clickhouse).not.toBe(first.clickhouse);
    await forgetContainer();
  });
});
