import { describe, expect, it } from 'vitest';
import { type IngestCommand, OPTIONS, parseCommand, parseSince } from '../../functions/cli/args.ts';
import { HELP } from '../../functions/cli/help.ts';

function ingest(argv: string[]): IngestCommand {
  const command = parseCommand(argv);
  if (command.command !== 'ingest') throw new Error(`expected ingest, got ${command.command}`);
  return command;
}

function usageError(argv: string[]): string {
  try {
    parseCommand(argv);
  } catch (error) {
    expect(error).toMatchObject({ code: 'USAGE' });
    return (error as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('the CLI arguments', () => {
  it('lists every option it takes in --help', () => {
    for (const [name, option] of Object.entries(OPTIONS)) {
      const short = 'short' in option ? `-${option.short}, ` : '';
      expect(HELP, `--${name}`).toContain(`${short}--${name}`);
    }
  });

  it('shows help without arguments, and with -h or --help anywhere', () => {
    expect(parseCommand([])).toEqual({ command: 'help' });
    expect(parseCommand(['-h'])).toEqual({ command: 'help' });
    expect(parseCommand(['ingest', 'a.csv', '--help'])).toEqual({ command: 'help' });
  });

  it('reads a local file with its defaults, and an S3 object', () => {
    const local = ingest(['ingest', 'data/orders.csv.gz', '--table', 'shop.orders']);
    expect(local.source).toEqual({ kind: 'file', path: 'data/orders.csv.gz' });
    expect(local.route).toMatchObject({ table: 'shop.orders', format: 'csv', header: true });
    expect(local.route.badRows).toEqual({ policy: 'reject', maxRejectedRows: 1000 });
    expect(local.chunking).toMatchObject({ maxBytes: 16 * 1024 * 1024, maxRows: 500_000 });
    expect(local.ledger).toBe('chute_load_history');
    expect(local.delivery).toBe('exactly-once');
    const remote = ingest(['ingest', 's3://landing/in/e.ndjson', '--table', 't', '--version-id', 'v1']);
    expect(remote.source).toEqual({ kind: 's3', bucket: 'landing', key: 'in/e.ndjson' });
    expect(remote.route.format).toBe('ndjson');
    expect(remote.versionId).toBe('v1');
  });

  it('takes the options that shape the route, the chunks and the load history', () => {
    const command = ingest([
      'ingest',
      'x.txt',
      '--table',
      't',
      '--format',
      'tsv',
      '--no-header',
      '--columns',
      'a, b',
      '--bad-rows',
      'fail',
      '--max-rejected',
      '5',
      '--chunk-bytes',
      '2048',
      '--chunk-rows',
      '10',
      '--max-record-bytes',
      '128',
      '--inserts-in-flight',
      '1',
      '--no-ledger',
      '--at-least-once',
      '--quiet',
    ]);
    expect(command.route).toMatchObject({ format: 'tsv', header: false, columns: ['a', 'b'] });
    expect(command.route.badRows).toEqual({ policy: 'fail', maxRejectedRows: 5 });
    expect(command.chunking).toEqual({
      maxBytes: 2048,
      maxRows: 10,
      maxRecordBytes: 128,
      insertsInFlight: 1,
    });
    expect(command.ledger).toBeUndefined();
    expect(command.delivery).toBe('at-least-once');
    expect(command.quiet).toBe(true);
  });

  it('refuses what it cannot do, saying what is wrong', () => {
    expect(usageError(['ingest', 'a.csv'])).toMatch(/--table is required/);
    expect(usageError(['ingest', 'a.dat', '--table', 't'])).toMatch(/cannot tell the format of "a\.dat"/);
    expect(usageError(['ingest', 'a.csv', '--table', 't', '--chunk-rows', 'many'])).toMatch(
      /--chunk-rows must be a whole number, got "many"/,
    );
    expect(usageError(['ingest', 'a.csv', '--table', 't', '--chunk-bytes', '10'])).toMatch(
      /invalid tuning option/,
    );
    expect(usageError(['ingest', 'a.csv', '--table', 't', '--inserts-in-flight', '5'])).toMatch(
      /invalid tuning option: .*insertsInFlight/,
    );
    expect(usageError(['ingest', 'a.csv', '--table', 't', '--colour'])).toMatch(/colour/);
    expect(usageError(['load', 'a.csv'])).toMatch(/unknown command "load"/);
    expect(usageError(['ingest', 'a.csv', 'b.csv', '--table', 't'])).toMatch(/unexpected argument/);
  });

  it('sends rejects where the rows come from, and refuses the other kind of place', () => {
    expect(ingest(['ingest', 'a.csv', '--table', 't', '--rejects', 'out/bad.ndjson']).rejects).toBe(
      'out/bad.ndjson',
    );
    expect(usageError(['ingest', 'a.csv', '--table', 't', '--rejects', 's3://b/p/'])).toMatch(
      /a local file's rejects go to a local path/,
    );
    expect(ingest(['ingest', 's3://b/k.csv', '--table', 't', '--rejects', 's3://other/bad/']).rejects).toBe(
      's3://other/bad/',
    );
    expect(usageError(['ingest', 's3://b/k.csv', '--table', 't', '--rejects', 'bad.ndjson'])).toMatch(
      /an S3 object's rejects go to s3:\/\/<bucket>\/<prefix>\//,
    );
  });

  it('reads the history options', () => {
    const command = parseCommand([
      'history',
      '--failed',
      '--key',
      'in/',
      '--limit',
      '5',
      '--json',
      '--ledger',
      'ops.loads',
      '--since',
      '2026-11-01',
    ]);
    expect(command).toMatchObject({
      command: 'history',
      failedOnly: true,
      key: 'in/',
      limit: 5,
      json: true,
      ledger: 'ops.loads',
    });
    expect(command.command === 'history' && command.since?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
});

describe('history options', () => {
  it('holds --limit to 1 to 10000 attempts', () => {
    expect(usageError(['history', '--limit', '0'])).toMatch(/--limit takes 1 to 10000 attempts, got 0/);
    expect(usageError(['history', '--limit', '10001'])).toMatch(/--limit takes 1 to 10000/);
    expect(usageError(['history', '--limit=-3'])).toMatch(/--limit takes 1 to 10000/);
    expect(parseCommand(['history', '--limit', '10000'])).toMatchObject({ limit: 10_000 });
    expect(parseCommand(['history'])).toMatchObject({ limit: 50 });
  });

  it('reads --since dates and times as UTC unless they carry a zone', () => {
    const iso = (text: string) => parseSince(text).toISOString();
    expect(iso('2026-11-01')).toBe('2026-11-01T00:00:00.000Z');
    expect(iso('2026-11-01T10:00')).toBe('2026-11-01T10:00:00.000Z');
    expect(iso('2026-11-01 10:00:30')).toBe('2026-11-01T10:00:30.000Z');
    expect(iso('2026-11-01T10:00:00Z')).toBe('2026-11-01T10:00:00.000Z');
    expect(iso('2026-11-01T10:00:00+01:00')).toBe('2026-11-01T09:00:00.000Z');
    expect(iso('2026-11-01T10:00:00.123Z')).toBe('2026-11-01T10:00:00.000Z');
    expect(iso('2026-11-01T10:00:00.5-02:30')).toBe('2026-11-01T12:30:00.000Z');
    const now = new Date('2026-11-28T12:00:00Z');
    expect(parseSince('24h', now).toISOString()).toBe('2026-11-27T12:00:00.000Z');
    expect(parseSince('30m', now).toISOString()).toBe('2026-11-28T11:30:00.000Z');
  });

  it('refuses what is not a date instead of guessing one', () => {
    for (const text of [
      '1',
      '2026-02-31',
      '2026-13-01',
      '2026-11-01T25:00',
      'yesterday',
      '2026/11/01',
      '24x',
    ]) {
      expect(() => parseSince(text), text).toThrow(/--since takes 24h, 7d, 30m, or a date/);
    }
    for (const text of ['999999999d', '30000d', '1969-12-31T23:59']) {
      expect(() => parseSince(text), text).toThrow(/is before 1970, where the load history starts/);
    }
  });
});
