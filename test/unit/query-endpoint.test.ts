import { describe, expect, it } from 'vitest';
import { whyNotReadOnly } from '../../functions/local/query-endpoint.ts';

describe('the local query endpoint answers only queries that read', () => {
  it.each([
    'SELECT count() FROM chute_demo.orders',
    '  select 1;',
    'WITH 1 AS x SELECT x',
    'SHOW TABLES FROM chute_demo',
    'DESCRIBE TABLE chute_demo.orders',
    '-- a note\nSELECT 1',
    '/* a note */ EXPLAIN SELECT 1',
  ])('runs %j', (query) => {
    expect(whyNotReadOnly(query)).toBeUndefined();
  });

  it.each([
    ['DROP TABLE chute_demo.orders', /only queries that read/],
    ['INSERT INTO chute_demo.orders SELECT * FROM chute_demo.orders', /only queries that read/],
    ['/* SELECT */ DROP TABLE x', /only queries that read/],
    ['SELECT 1; DROP TABLE x', /one statement at a time/],
    ["SELECT '--'; DROP TABLE x", /one statement at a time/],
    ["SELECT 1 INTO OUTFILE '/tmp/x'", /INTO OUTFILE/],
    ['ALTER TABLE x DELETE WHERE 1', /only queries that read/],
  ])('refuses %j', (query, why) => {
    expect(whyNotReadOnly(query)).toMatch(why);
  });
});
