import { describe, expect, it } from 'vitest';
import { configFromEnv, parseConfig, parseRoute } from '../../functions/core/config/parse.ts';
import { REJECTS_SUFFIX, routeCanMatchRejects } from '../../functions/core/config/schema.ts';
import { ChuteError } from '../../functions/core/errors.ts';

const URL = 'http://127.0.0.1:8123';

function minimal(route: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clickhouse: { url: URL },
    routes: [{ prefix: 'in/', table: 'events', format: 'csv', ...route }],
  };
}

/** The ChuteError `fn` throws; fails the test when it throws something else or nothing. */
function thrown(fn: () => unknown): ChuteError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ChuteError) return error;
    throw new Error(`expected a ChuteError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a ChuteError, nothing was thrown');
}

describe('parseConfig defaults', () => {
  it('fills every default of a minimal configuration', () => {
    const config = parseConfig(minimal());
    expect(config.chunking).toEqual({
      maxBytes: 16 * 1024 * 1024,
      maxRows: 500_000,
      maxRecordBytes: 1024 * 1024,
      insertsInFlight: 2,
    });
    expect(config.rejects).toEqual({ prefix: 'chute-rejects/' });
    expect(config.clickhouse).toEqual({
      url: URL,
      maxOpenConnections: 4,
      idleSocketTtlMs: 2000,
      requestTimeoutMs: 300_000,
    });
    expect(config.routes).toHaveLength(1);
    expect(config.routes[0]).toEqual({
      prefix: 'in/',
      table: 'events',
      format: 'csv',
      header: true,
      compression: 'auto',
      extraColumns: 'fail',
      badRows: { policy: 'reject', maxRejectedRows: 1000 },
      delivery: 'exactly-once',
    });
    expect(config.ledger).toEqual({ table: 'chute_load_history' });
    expect(config.s3).toEqual({});
  });

  it('fills badRows defaults field by field when only one is given', () => {
    const config = parseConfig(minimal({ badRows: { policy: 'fail' } }));
    expect(config.routes[0]?.badRows).toEqual({ policy: 'fail', maxRejectedRows: 1000 });
  });

  it('defaults the prefix to the empty string (when the rejects prefix cannot be matched)', () => {
    const route = parseRoute({ table: 'events', format: 'ndjson', suffix: '.json' });
    expect(route.prefix).toBe('');
    expect(route.header).toBe(true);
  });

  it('keeps given values instead of the defaults', () => {
    const config = parseConfig({
      clickhouse: { url: 'https://ch.example.com:8443', username: 'u', password: 'p', database: 'db' },
      routes: [
        {
          name: 'orders',
          prefix: 'orders/',
          suffix: '.csv.gz',
          table: 'db.orders',
          format: 'csv',
          delimiter: ';',
          compression: 'gzip',
          extraColumns: 'ignore',
          badRows: { policy: 'reject', maxRejectedRows: 0 },
        },
      ],
      rejects: { prefix: 'bad/' },
      chunking: { maxBytes: 1024, maxRows: 1, maxRecordBytes: 64, insertsInFlight: 2 },
    });
    expect(config.chunking).toEqual({ maxBytes: 1024, maxRows: 1, maxRecordBytes: 64, insertsInFlight: 2 });
    expect(config.rejects.prefix).toBe('bad/');
    expect(config.routes[0]?.delimiter).toBe(';');
    expect(config.routes[0]?.badRows.maxRejectedRows).toBe(0);
  });

  it('accepts a header-less CSV route with its columns', () => {
    const route = parseRoute({ table: 't', format: 'csv', header: false, columns: ['a', 'b'], prefix: 'x/' });
    expect(route.columns).toEqual(['a', 'b']);
  });
});

describe('parseConfig refusals', () => {
  it.each([
    ['an unknown format', { format: 'xml' }, 'routes[0].format'],
    ['a table name with a space', { table: 'my table' }, 'routes[0].table'],
    ['a table name with SQL in it', { table: 'x; DROP TABLE y' }, 'routes[0].table'],
    ['a three-part table name', { table: 'a.b.c' }, 'routes[0].table'],
    ['header false without columns', { header: false }, 'routes[0].columns'],
    ['columns together with header true', { columns: ['a'] }, 'routes[0].columns'],
    ['a column name starting with a digit', { header: false, columns: ['1a'] }, 'routes[0].columns[0]'],
    ['a delimiter on a TSV route', { format: 'tsv', delimiter: ';' }, 'routes[0].delimiter'],
    ['a quote as delimiter', { delimiter: '"' }, 'routes[0].delimiter'],
    ['a two-character delimiter', { delimiter: ';;' }, 'routes[0].delimiter'],
    ['columns on an NDJSON route', { format: 'ndjson', columns: ['a'] }, 'routes[0].columns'],
    ['an empty suffix', { suffix: '' }, 'routes[0].suffix'],
    ['an unknown compression', { compression: 'zstd' }, 'routes[0].compression'],
    ['an unknown extraColumns', { extraColumns: 'drop' }, 'routes[0].extraColumns'],
    ['an unknown badRows policy', { badRows: { policy: 'skip' } }, 'routes[0].badRows.policy'],
    ['a negative reject limit', { badRows: { maxRejectedRows: -1 } }, 'routes[0].badRows.maxRejectedRows'],
    ['an unknown route field', { tabel: 'x' }, 'routes[0]'],
  ])('refuses %s, naming the field', (_, route, path) => {
    const error = thrown(() => parseConfig(minimal(route)));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`${path}:`);
    expect(error.message).toMatch(/^Invalid configuration: /);
  });

  it('names the index of the faulty route among several', () => {
    const config = minimal();
    config.routes = [
      { prefix: 'a/', table: 't', format: 'csv' },
      { prefix: 'b/', table: 't', format: 'parquet' },
    ];
    const error = thrown(() => parseConfig(config));
    expect(error.message).toContain('routes[1].format');
    expect(error.message).not.toContain('routes[0]');
  });

  it.each([
    ['a missing URL', {}, 'clickhouse.url'],
    ['a URL that is not one', { url: 'not a url' }, 'clickhouse.url'],
    ['a non-HTTP URL', { url: 'tcp://127.0.0.1:9000' }, 'clickhouse.url'],
    ['a database name with a dash', { url: URL, database: 'my-db' }, 'clickhouse.database'],
    ['zero connections', { url: URL, maxOpenConnections: 0 }, 'clickhouse.maxOpenConnections'],
  ])('refuses %s, naming the field', (_, clickhouse, path) => {
    const error = thrown(() => parseConfig({ ...minimal(), clickhouse }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`${path}:`);
  });

  it.each([
    ['maxBytes below 1024', { maxBytes: 1023 }, 'chunking.maxBytes'],
    ['maxRows of 0', { maxRows: 0 }, 'chunking.maxRows'],
    ['a fractional maxRows', { maxRows: 1.5 }, 'chunking.maxRows'],
    ['maxRecordBytes below 64', { maxRecordBytes: 63 }, 'chunking.maxRecordBytes'],
    ['insertsInFlight above 4', { insertsInFlight: 5 }, 'chunking.insertsInFlight'],
  ])('refuses chunking with %s', (_, chunking, path) => {
    const error = thrown(() => parseConfig({ ...minimal(), chunking }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`${path}:`);
  });

  it('refuses an empty route list and a missing one', () => {
    expect(thrown(() => parseConfig({ ...minimal(), routes: [] })).message).toContain(
      'routes: needs at least one route',
    );
    expect(thrown(() => parseConfig({ clickhouse: { url: URL } })).message).toContain('routes:');
  });

  it('refuses a non-object with a (root) path', () => {
    const error = thrown(() => parseConfig('nope'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('(root):');
  });

  it('lists every problem, not only the first', () => {
    const error = thrown(() => parseConfig(minimal({ format: 'xml', table: 'bad name' })));
    expect(error.message).toContain('routes[0].format');
    expect(error.message).toContain('routes[0].table');
  });

  it('keeps the zod error as the cause and uses the given source name', () => {
    const error = thrown(() => parseConfig(minimal({ format: 'xml' }), 'props of ChuteLoader'));
    expect(error.message).toMatch(/^Invalid props of ChuteLoader: /);
    expect(error.cause).toBeDefined();
  });

  it('parseRoute names fields without the routes[i] prefix', () => {
    const error = thrown(() => parseRoute({ table: 't', format: 'tsv', delimiter: ',', prefix: 'x/' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/^Invalid route: delimiter: /);
  });
});

describe('the s3 section', () => {
  it('leaves verifyChecksums undefined by default: the client decides for its endpoint', () => {
    expect(parseConfig(minimal()).s3.verifyChecksums).toBeUndefined();
    expect(parseConfig({ ...minimal(), s3: {} }).s3.verifyChecksums).toBeUndefined();
  });

  it('accepts verifyChecksums false, also from CHUTE_CONFIG', () => {
    expect(parseConfig({ ...minimal(), s3: { verifyChecksums: false } }).s3).toEqual({
      verifyChecksums: false,
    });
    const env = { CHUTE_CONFIG: JSON.stringify({ ...minimal(), s3: { verifyChecksums: false } }) };
    expect(configFromEnv(env).s3.verifyChecksums).toBe(false);
  });

  it('refuses an unknown key under s3, naming it', () => {
    const error = thrown(() => parseConfig({ ...minimal(), s3: { verifyChecksum: false } }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('s3: ');
    expect(error.message).toContain('verifyChecksum');
  });

  it('refuses a verifyChecksums that is not a boolean, naming the field', () => {
    const error = thrown(() => parseConfig({ ...minimal(), s3: { verifyChecksums: 'no' } }));
    expect(error.message).toContain('s3.verifyChecksums:');
  });
});

describe('routes that could load their own rejects', () => {
  it.each([
    ['', undefined, true],
    ['in/', undefined, false],
    ['', '.csv', false],
    ['', '.ndjson', true],
    ['chute', '.ndjson', true],
    ['chute-rejects/in/', '.ndjson', true],
    ['chute-rejects/in/', '.csv', false],
    ['in/', '.ndjson', false],
    ['', '.rejects.ndjson', true],
    ['', 'x.rejects.ndjson', true],
    ['', 'json', true],
    ['', '.json', false],
  ])('prefix %j suffix %j → loop %s', (prefix, suffix, loop) => {
    expect(routeCanMatchRejects({ prefix, suffix }, 'chute-rejects/')).toBe(loop);
  });

  it('rejects keys really end with the suffix the check is about', () => {
    expect(REJECTS_SUFFIX).toBe('.rejects.ndjson');
  });

  it('refuses a catch-all route with a message about the loop, naming the route prefix', () => {
    const error = thrown(() => parseConfig(minimal({ prefix: '' })));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('routes[0].prefix');
    expect(error.message).toContain('chute-rejects/');
    expect(error.message).toMatch(/loop/);
  });

  it('refuses an NDJSON route whose prefix overlaps the rejects prefix', () => {
    const error = thrown(() =>
      parseConfig({
        ...minimal({ prefix: 'out/', format: 'ndjson', suffix: '.ndjson' }),
        rejects: { prefix: 'out/rejects/' },
      }),
    );
    expect(error.message).toMatch(/loop/);
  });

  it('accepts a catch-all route with a suffix rejects objects cannot have', () => {
    expect(parseConfig(minimal({ prefix: '', suffix: '.csv' })).routes[0]?.prefix).toBe('');
  });

  it('checks against a custom rejects prefix', () => {
    expect(() => parseConfig({ ...minimal({ prefix: 'in/' }), rejects: { prefix: 'in/rejects/' } })).toThrow(
      /loop/,
    );
    expect(
      parseConfig({ ...minimal({ prefix: 'in/' }), rejects: { prefix: 'rejected/' } }).rejects.prefix,
    ).toBe('rejected/');
  });
});

describe('configFromEnv', () => {
  const json = JSON.stringify(minimal());

  it('refuses a missing or blank CHUTE_CONFIG', () => {
    for (const env of [{}, { CHUTE_CONFIG: '' }, { CHUTE_CONFIG: '   ' }]) {
      const error = thrown(() => configFromEnv(env));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('CHUTE_CONFIG is not set');
    }
  });

  it('refuses CHUTE_CONFIG that is not JSON', () => {
    const error = thrown(() => configFromEnv({ CHUTE_CONFIG: '{routes: [' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('CHUTE_CONFIG is not valid JSON');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('refuses CHUTE_CONFIG that is JSON null with CONFIG_INVALID', () => {
    const error = thrown(() => configFromEnv({ CHUTE_CONFIG: 'null' }));
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('names invalid fields with CHUTE_CONFIG as the source', () => {
    const error = thrown(() => configFromEnv({ CHUTE_CONFIG: JSON.stringify(minimal({ format: 'xml' })) }));
    expect(error.message).toMatch(/^Invalid CHUTE_CONFIG: /);
    expect(error.message).toContain('routes[0].format');
  });

  it('takes the JSON as it is when no connection variable is set', () => {
    const config = configFromEnv({ CHUTE_CONFIG: json });
    expect(config.clickhouse.url).toBe(URL);
    expect(config.clickhouse.username).toBeUndefined();
    expect(config.clickhouse.password).toBeUndefined();
    expect(config.clickhouse.database).toBeUndefined();
  });

  it('lets CLICKHOUSE_* variables override the JSON', () => {
    const config = configFromEnv({
      CHUTE_CONFIG: JSON.stringify({
        ...minimal(),
        clickhouse: {
          url: URL,
          username: 'json-user',
          password: 'json-pass',
          database: 'jsondb',
          maxOpenConnections: 8,
        },
      }),
      CLICKHOUSE_URL: 'https://override.example.com:8443',
      CLICKHOUSE_USER: 'env_user',
      CLICKHOUSE_PASSWORD: 'env-pass',
      CLICKHOUSE_DATABASE: 'envdb',
    });
    expect(config.clickhouse).toMatchObject({
      url: 'https://override.example.com:8443',
      username: 'env_user',
      password: 'env-pass',
      database: 'envdb',
      maxOpenConnections: 8,
    });
  });

  it('supplies the connection entirely from the environment', () => {
    const { clickhouse: _, ...rest } = minimal();
    const config = configFromEnv({ CHUTE_CONFIG: JSON.stringify(rest), CLICKHOUSE_URL: 'http://ch:8123' });
    expect(config.clickhouse.url).toBe('http://ch:8123');
  });

  it('names clickhouse.url when neither the JSON nor the environment gives one', () => {
    const { clickhouse: _, ...rest } = minimal();
    const error = thrown(() => configFromEnv({ CHUTE_CONFIG: JSON.stringify(rest) }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('clickhouse.url');
  });

  it('treats an empty CLICKHOUSE_PASSWORD as a password, but empty user, URL and database as unset', () => {
    const config = configFromEnv({
      CHUTE_CONFIG: JSON.stringify({
        ...minimal(),
        clickhouse: { url: URL, username: 'u', password: 'secret', database: 'd' },
      }),
      CLICKHOUSE_URL: '',
      CLICKHOUSE_USER: '',
      CLICKHOUSE_PASSWORD: '',
      CLICKHOUSE_DATABASE: '',
    });
    expect(config.clickhouse).toMatchObject({ url: URL, username: 'u', password: '', database: 'd' });
  });

  it('validates an overriding CLICKHOUSE_URL', () => {
    const error = thrown(() => configFromEnv({ CHUTE_CONFIG: json, CLICKHOUSE_URL: 'ftp://x' }));
    expect(error.message).toContain('clickhouse.url');
  });
});
