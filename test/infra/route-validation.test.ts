import { describe, expect, it } from 'vitest';
import { isChuteError } from '../../functions/core/errors.ts';
import {
  checkEnvironmentSize,
  filtersOverlap,
  findOverlappingRoutes,
  functionConfigJson,
  validateIngestConfig,
} from '../../infra/route-validation.ts';

const URL_OK = 'https://clickhouse.internal.example:8443';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('filtersOverlap (what S3 refuses for one event type)', () => {
  it.each([
    // [a, b, overlap]
    [{ prefix: 'a/' }, { prefix: 'a/' }, true],
    [{ prefix: 'a/' }, { prefix: 'a/b/' }, true],
    [{ prefix: '' }, { prefix: 'anything/' }, true],
    [{ prefix: 'a/' }, { prefix: 'b/' }, false],
    [{ prefix: 'a/', suffix: '.csv' }, { prefix: 'a/', suffix: '.json' }, false],
    [{ prefix: 'a/', suffix: '.csv' }, { prefix: 'a/b/', suffix: '.csv' }, true],
    [{ prefix: 'a/', suffix: '.csv.gz' }, { prefix: 'a/', suffix: '.gz' }, true],
    [{ prefix: 'a/', suffix: '.csv' }, { prefix: 'a/' }, true],
    [{ prefix: 'data', suffix: '.csv' }, { prefix: 'database/', suffix: '.tsv' }, false],
  ])('%o vs %o -> %s', (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });

  it('lists every overlapping pair once', () => {
    expect(
      findOverlappingRoutes([
        { prefix: 'a/' },
        { prefix: 'b/' },
        { prefix: 'a/x/' },
        { prefix: '', suffix: '.z' },
      ]),
    ).toEqual([
      [0, 2],
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
  });
});

describe('validateIngestConfig', () => {
  it('returns the configuration parsed by the schema the function uses, defaults filled', () => {
    const config = validateIngestConfig({
      clickHouseUrl: URL_OK,
      routes: [{ prefix: 'in/', table: 't', format: 'csv' }],
    });
    expect(config.routes[0]).toMatchObject({ prefix: 'in/', header: true, compression: 'auto' });
    expect(config.rejects.prefix).toBe('chute-rejects/');
    expect(config.chunking.maxBytes).toBe(16 * 1024 * 1024);
  });

  it('fails on overlapping routes, naming both', () => {
    const error = errorOf(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        routes: [
          { name: 'all-csv', prefix: 'in/', suffix: '.csv', table: 'a', format: 'csv' },
          { name: 'eu-csv', prefix: 'in/eu/', suffix: '.csv', table: 'b', format: 'csv' },
        ],
      }),
    );
    expect(isChuteError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toBe(
      'Invalid ChuteIngest props: routes[0] "all-csv" (prefix "in/", suffix ".csv") overlaps routes[1] "eu-csv" (prefix "in/eu/", suffix ".csv"). S3 refuses two object-created notifications when one prefix starts the other and one suffix ends the other (some key would match both); give the routes disjoint prefixes, or suffixes that do not end one another',
    );
  });

  it('fails on a route that would load the rejects it writes (a loop), naming the route', () => {
    const error = errorOf(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        rejectsPrefix: 'data/rejects/',
        routes: [{ name: 'everything', prefix: 'data/', table: 't', format: 'ndjson' }],
      }),
    );
    expect(isChuteError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toContain('Invalid ChuteIngest props: routes[0].prefix: "data/" (suffix none)');
    expect(error.message).toContain('can match rejects objects under "data/rejects/"');
    expect(error.message).toContain('(a loop)');
  });

  it('accepts a route under the same parent whose suffix cannot match a rejects object', () => {
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        rejectsPrefix: 'data/rejects/',
        routes: [{ prefix: 'data/', suffix: '.csv', table: 't', format: 'csv' }],
      }),
    ).not.toThrow();
  });

  it('fails on a bad route with the field and the reason', () => {
    const error = errorOf(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        routes: [
          { prefix: 'a/', table: 't', format: 'csv' },
          { prefix: 'b/', table: 'bad table', format: 'xml' as 'csv' },
        ],
      }),
    );
    expect(error.message).toMatch(/^Invalid ChuteIngest props: /);
    expect(error.message).toContain('routes[1].table: must be "table" or "database.table"');
    expect(error.message).toContain('routes[1].format: Invalid option');
  });

  it('fails on a header-less CSV route without columns', () => {
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        routes: [{ prefix: 'a/', table: 't', format: 'csv', header: false }],
      }),
    ).toThrow('routes[0].columns: is required when header is false');
  });

  it('fails without routes', () => {
    expect(() => validateIngestConfig({ clickHouseUrl: URL_OK, routes: [] })).toThrow(
      'routes: needs at least one route',
    );
  });

  it('fails on a URL that is not http(s), naming clickhouse.url', () => {
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: 'clickhouse.example.com',
        routes: [{ table: 't', format: 'csv', prefix: 'a/' }],
      }),
    ).toThrow(/clickhouse\.url: /);
  });

  it('fails on a URL with embedded credentials (it would be a plain environment variable)', () => {
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: 'https://loader:hunter2@clickhouse.example.com:8443',
        routes: [{ table: 't', format: 'csv', prefix: 'a/' }],
      }),
    ).toThrow('clickHouseUrl embeds credentials');
  });

  it('fails on a bad database name', () => {
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        clickHouseDatabase: 'my-db',
        routes: [{ table: 't', format: 'csv', prefix: 'a/' }],
      }),
    ).toThrow('clickhouse.database: ');
  });

  it('fails on filter characters S3 wants percent-encoded or IAM reads as wildcards', () => {
    for (const prefix of ['in coming/', 'in*/', 'dt=2024/', 'a?b/']) {
      expect(() =>
        validateIngestConfig({
          clickHouseUrl: URL_OK,
          routes: [{ name: 'x', prefix, table: 't', format: 'csv' }],
        }),
      ).toThrow(`routes[0].prefix "${prefix}" (route "x") has characters outside`);
    }
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        routes: [{ prefix: 'a/', suffix: '.c sv', table: 't', format: 'csv' }],
      }),
    ).toThrow('routes[0].suffix ".c sv"');
    expect(() =>
      validateIngestConfig({
        clickHouseUrl: URL_OK,
        rejectsPrefix: 'rejects*/',
        routes: [{ prefix: 'a/', table: 't', format: 'csv' }],
      }),
    ).toThrow('rejectsPrefix "rejects*/" has characters outside');
  });
});

describe('functionConfigJson (CHUTE_CONFIG)', () => {
  it('holds routes, rejects and chunking, never a clickhouse section', () => {
    const input = { clickHouseUrl: URL_OK, routes: [{ prefix: 'a/', table: 't', format: 'csv' as const }] };
    const json = JSON.parse(functionConfigJson(input, validateIngestConfig(input))) as Record<
      string,
      unknown
    >;
    expect(Object.keys(json).sort()).toEqual(['chunking', 'ledger', 'rejects', 'routes']);
    expect(json.routes).toEqual([{ prefix: 'a/', table: 't', format: 'csv' }]);
    expect(json.rejects).toEqual({ prefix: 'chute-rejects/' });
  });
});

describe('checkEnvironmentSize', () => {
  it("fails past Lambda's 4 KB, saying how large CHUTE_CONFIG is", () => {
    expect(() => checkEnvironmentSize({ CHUTE_CONFIG: 'x'.repeat(3000), OTHER: 'y' })).not.toThrow();
    expect(() => checkEnvironmentSize({ CHUTE_CONFIG: 'x'.repeat(4100) })).toThrow(
      /environment would be 4112 bytes, over Lambda's 4096-byte limit \(CHUTE_CONFIG alone is 4100 bytes\)/,
    );
  });
});
