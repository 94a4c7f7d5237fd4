import { describe, expect, it } from 'vitest';
import { ChuteError } from '../../functions/core/errors.ts';
import { BufferPool, chunkBufferSize } from '../../functions/core/pipeline/buffer-pool.ts';
import type { Chunk } from '../../functions/core/pipeline/chunk.ts';
import { ChunkAssembler } from '../../functions/core/pipeline/chunk-assembler.ts';
import { indexChunk } from '../../functions/core/pipeline/chunk-index.ts';
import { type ChunkInsertTarget, loadChunk } from '../../functions/core/pipeline/chunk-loader.ts';
import type { RejectedRow } from '../../functions/core/ports/object-store.ts';
import { DataRejectedError, type RawInsert } from '../../functions/core/ports/warehouse.ts';
import { onlyChunk } from '../fixtures/chunks.ts';

const WHERE = 's3://landing/in/file.csv';
const HEADER = 'id,value';

/** How the fake names the failing row: as ClickHouse does, not at all, at a good row, or past the end. */
type HintMode = 'exact' | 'none' | 'wrong' | 'beyond' | 'zero';

interface Call {
  readonly rows: string[];
  readonly token: string | number | undefined;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly ok: boolean;
}

/**
 * An in-memory ClickHouse stand-in: a row containing BAD fails the whole insert (nothing of it lands), with
 * `(at row N)` counted from 1 within that insert, the way ClickHouse reports the first row it cannot parse.
 */
class FakeTarget implements ChunkInsertTarget {
  readonly base: Omit<RawInsert, 'body' | 'settings'>;
  readonly settings = { input_format_allow_errors_num: 0, format_csv_delimiter: ',' };
  readonly inserted: string[] = [];
  readonly calls: Call[] = [];

  constructor(
    readonly hintMode: HintMode = 'exact',
    readonly prefix: string | undefined = undefined,
    readonly tokens = true,
  ) {
    this.base = {
      table: { database: 'default', table: 'events' },
      columns: prefix === undefined ? ['id', 'value'] : undefined,
      format: prefix === undefined ? 'CSV' : 'CSVWithNames',
    };
  }

  readonly poison = Buffer.from('"a"b\n');

  token(index: number, range?: readonly [number, number]): string | undefined {
    if (!this.tokens) return undefined;
    return `version:${index}:${range === undefined ? 'whole' : `${range[0]}-${range[1]}`}`;
  }

  async insert(insert: RawInsert): Promise<void> {
    const pieces: Buffer[] = [];
    for await (const piece of insert.body) pieces.push(piece);
    let text = Buffer.concat(pieces).toString('utf8');
    if (this.prefix !== undefined) {
      expect(text.startsWith(`${this.prefix}\n`)).toBe(true);
      text = text.slice(this.prefix.length + 1);
    }
    expect(text.endsWith('\n')).toBe(true);
    const rows = text.slice(0, -1).split('\n');
    const bad = rows.findIndex((row) => row.includes('BAD'));
    this.calls.push({
      rows,
      token: insert.settings.insert_deduplication_token,
      settings: insert.settings,
      ok: bad < 0,
    });
    if (bad < 0) {
      this.inserted.push(...rows);
      return;
    }
    const hint = this.#hint(bad, rows.length);
    const at = hint === undefined ? '' : ` (at row ${hint})`;
    throw new DataRejectedError(`Cannot parse input: expected ',' before: 'BAD'${at}`, '27', hint);
  }

  #hint(bad: number, rows: number): number | undefined {
    switch (this.hintMode) {
      case 'exact':
        return bad + 1;
      case 'none':
        return undefined;
      case 'wrong':
        // A good row where there is one: the row before the bad one, else the one after it.
        return bad > 0 ? bad : Math.min(bad + 2, rows);
      case 'beyond':
        return rows + 5;
      case 'zero':
        return 0;
    }
  }
}

interface Built {
  readonly chunk: Chunk;
  /** Every data row in file order, with its line and row number. */
  readonly rows: readonly { text: string; line: number; row: number }[];
}

/**
 * One chunk from data rows; `blankEvery` puts a blank line after every n-th row, so lines and row numbers
 * differ the way they do in real files.
 */
function build(texts: readonly string[], options: { prefix?: string; blankEvery?: number } = {}): Built {
  const chunking = { maxBytes: 1 << 20, maxRows: 100_000, maxRecordBytes: 1024, insertsInFlight: 2 };
  const assembler = new ChunkAssembler({
    format: 'csv',
    delimiter: ',',
    chunking,
    header: true,
    pool: new BufferPool(chunkBufferSize(chunking)),
    onHeader: (record) => (options.prefix === undefined ? undefined : record),
  });
  const rows: { text: string; line: number; row: number }[] = [];
  const lines = [options.prefix ?? HEADER];
  texts.forEach((text, i) => {
    lines.push(text);
    rows.push({ text, line: lines.length, row: i + 1 });
    if (options.blankEvery !== undefined && (i + 1) % options.blankEvery === 0) lines.push('');
  });
  const chunks = [...assembler.push(Buffer.from(`${lines.join('\n')}\n`)), ...assembler.end()];
  const chunk = chunks[0];
  if (chunk === undefined || chunks.length !== 1) throw new Error('expected one chunk');
  return { chunk, rows };
}

/** The index the pipeline builds when a chunk needs row-level work. */
function indexCsv(chunk: Chunk) {
  return indexChunk(chunk, 'csv', ',');
}

function texts(count: number, badAt: readonly number[]): string[] {
  const bad = new Set(badAt);
  return Array.from({ length: count }, (_, i) => (bad.has(i + 1) ? `${i + 1},BAD` : `${i + 1},ok`));
}

function expectedRejects(built: Built): RejectedRow[] {
  return built.rows
    .filter((r) => r.text.includes('BAD'))
    .map((r) => ({
      line: r.line,
      row: r.row,
      reason: expect.stringMatching(/^ClickHouse code 27: Cannot parse input: expected ',' before: 'BAD'/),
      raw: r.text,
    }));
}

function goodRows(built: Built): string[] {
  return built.rows.filter((r) => !r.text.includes('BAD')).map((r) => r.text);
}

/** A small deterministic generator, so the randomised cases are the same on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('loadChunk, clean data', () => {
  it('inserts the whole chunk in one insert', async () => {
    const built = build(texts(50, []));
    const target = new FakeTarget();
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    expect(outcome).toEqual({ inserted: 50, rejected: [], inserts: 1 });
    expect(target.inserted).toEqual(goodRows(built));
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]?.token).toBe('version:0:whole');
  });

  it('sends nothing for a chunk without rows, and leaves the chunker’s own rejects out', async () => {
    const chunking = { maxBytes: 1024, maxRows: 10, maxRecordBytes: 64, insertsInFlight: 2 };
    const chunk = onlyChunk(`${'x'.repeat(100)}\n`, chunking);
    expect(chunk.rejected).toHaveLength(1);
    const target = new FakeTarget();
    expect(await loadChunk(chunk, target, 'reject', WHERE, indexCsv)).toEqual({
      inserted: 0,
      rejected: [],
      inserts: 0,
    });
    expect(target.calls).toEqual([]);
  });
});

describe.each<HintMode>(['exact', 'none', 'wrong', 'beyond', 'zero'])(
  'loadChunk isolating bad rows, hint %s',
  (hint) => {
    it.each([
      ['one bad row in the middle', 20, [7]],
      ['the first row bad', 20, [1]],
      ['the last row bad', 20, [20]],
      ['adjacent bad rows', 20, [9, 10, 11]],
      ['scattered bad rows', 37, [2, 5, 17, 18, 30, 37]],
      ['a single row, bad', 1, [1]],
      ['every row bad', 6, [1, 2, 3, 4, 5, 6]],
    ])('%s', async (_, count, bad) => {
      const built = build(texts(count, bad), { blankEvery: 4 });
      const target = new FakeTarget(hint);
      const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);

      // Every good row exactly once, in file order; every bad row rejected, in file order.
      expect(target.inserted).toEqual(goodRows(built));
      expect(outcome.inserted).toBe(count - bad.length);
      expect(outcome.rejected).toEqual(expectedRejects(built));
      expect(outcome.inserts).toBe(target.calls.length);
      // A failed insert lands nothing, and no row is ever part of two successful inserts.
      const landed = target.calls.filter((c) => c.ok).flatMap((c) => c.rows);
      expect(new Set(landed).size).toBe(landed.length);
    });
  },
);

describe('loadChunk, details', () => {
  it('carries the line, the row, the raw text and ClickHouse’s reason for a rejected row', async () => {
    const built = build(texts(10, [4]), { blankEvery: 2 });
    const outcome = await loadChunk(built.chunk, new FakeTarget('exact'), 'reject', WHERE, indexCsv);
    // Rows 1..4 sit on lines 2, 3, 5, 6 (blank lines 4 and 7).
    expect(outcome.rejected).toEqual([
      {
        line: 6,
        row: 4,
        reason: "ClickHouse code 27: Cannot parse input: expected ',' before: 'BAD' (at row 1)",
        raw: '4,BAD',
      },
    ]);
  });

  it('splits at the hinted row: one failed insert, then the part before, the row, and the rest', async () => {
    const built = build(texts(10, [4]));
    const target = new FakeTarget('exact');
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    expect(target.calls.map((c) => [c.token, c.ok])).toEqual([
      ['version:0:whole', false],
      ['version:0:0-3', true],
      ['version:0:3-4', false],
      ['version:0:4-10', true],
    ]);
    expect(outcome.inserts).toBe(4);
  });

  it('halves the range when there is no hint', async () => {
    const built = build(texts(8, [6]));
    const target = new FakeTarget('none');
    await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    expect(target.calls.map((c) => [c.token, c.ok])).toEqual([
      ['version:0:whole', false],
      ['version:0:0-4', true],
      ['version:0:4-8', false],
      ['version:0:4-6', false],
      ['version:0:4-5', true],
      ['version:0:5-6', false],
      ['version:0:6-8', true],
    ]);
  });

  it('keeps the header prefix in front of every insert of a *WithNames chunk', async () => {
    const built = build(texts(12, [3, 8]), { prefix: HEADER });
    const target = new FakeTarget('exact', HEADER);
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    expect(target.inserted).toEqual(goodRows(built));
    expect(outcome.rejected.map((r) => r.row)).toEqual([3, 8]);
    expect(target.calls.every((c) => !c.rows.includes(HEADER))).toBe(true);
  });

  it('loads randomised chunks exactly, whatever the hints', async () => {
    const random = lcg(20240501);
    for (let round = 0; round < 60; round++) {
      const count = 1 + Math.floor(random() * 60);
      const bad = Array.from({ length: count }, (_, i) => i + 1).filter(() => random() < 0.15);
      const modes: HintMode[] = ['exact', 'none', 'wrong', 'beyond', 'zero'];
      const mode = modes[round % modes.length] ?? 'exact';
      const prefix = round % 3 === 0 ? HEADER : undefined;
      const built = build(texts(count, bad), { prefix, blankEvery: 1 + (round % 5) });
      const target = new FakeTarget(mode, prefix);
      const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
      expect(target.inserted).toEqual(goodRows(built));
      expect(outcome.rejected).toEqual(expectedRejects(built));
      expect(outcome.inserted).toBe(count - bad.length);
    }
  });
});

describe('loadChunk, policy fail', () => {
  it('throws REJECT_LIMIT_EXCEEDED naming the bad row’s line, and inserts nothing', async () => {
    const built = build(texts(10, [6]), { blankEvery: 3 });
    const target = new FakeTarget('exact');
    const error = await loadChunk(built.chunk, target, 'fail', WHERE, indexCsv).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ChuteError);
    const chute = error as ChuteError;
    expect(chute.code).toBe('REJECT_LIMIT_EXCEEDED');
    // Row 6 is on line 8: rows 1-3 on lines 2-4, blank line 5, rows 4-6 on lines 6-8.
    expect(chute.message).toContain(`${WHERE}, line 8: Cannot parse input`);
    expect(chute.message).toContain('(badRows.policy is "fail")');
    expect(chute.cause).toBeInstanceOf(DataRejectedError);
    expect(target.inserted).toEqual([]);
    expect(target.calls).toHaveLength(1);
  });

  it('throws REJECT_LIMIT_EXCEEDED without a hint as well', async () => {
    const built = build(texts(10, [6]));
    const target = new FakeTarget('none');
    await expect(loadChunk(built.chunk, target, 'fail', WHERE, indexCsv)).rejects.toMatchObject({
      code: 'REJECT_LIMIT_EXCEEDED',
      message: expect.stringContaining("Cannot parse input: expected ',' before: 'BAD'"),
    });
    expect(target.inserted).toEqual([]);
  });

  it('succeeds on clean data', async () => {
    const built = build(texts(5, []));
    expect(await loadChunk(built.chunk, new FakeTarget(), 'fail', WHERE, indexCsv)).toEqual({
      inserted: 5,
      rejected: [],
      inserts: 1,
    });
  });
});

describe('loadChunk, other failures', () => {
  it('lets an error that is not about the data through unchanged, without retrying', async () => {
    const built = build(texts(10, []));
    const failure = new Error('socket hang up');
    let calls = 0;
    const target: ChunkInsertTarget = {
      base: { table: { database: 'default', table: 'events' }, columns: ['id', 'value'], format: 'CSV' },
      settings: {},
      token: () => undefined,
      poison: Buffer.from('"a"b\n'),
      insert: async () => {
        calls++;
        throw failure;
      },
    };
    await expect(loadChunk(built.chunk, target, 'reject', WHERE, indexCsv)).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it.each([
    ['CSV', 'fails the file as a changed table', { code: 'SCHEMA_MISMATCH' }],
    ['JSONEachRow', 'isolates the rows (an unknown JSON key is bad data)', undefined],
  ] as const)('on ClickHouse code 16 (no such column) in %s, %s', async (format, _, failure) => {
    const built = build(texts(4, []));
    let calls = 0;
    const target: ChunkInsertTarget = {
      base: { table: { database: 'default', table: 'events' }, columns: ['id', 'value'], format },
      settings: {},
      token: () => undefined,
      poison: Buffer.from('"a"b\n'),
      insert: async () => {
        calls++;
        throw new DataRejectedError('No such column value in table default.events', '16', undefined);
      },
    };
    const loading = loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    if (failure === undefined) {
      const outcome = await loading;
      expect(outcome.rejected).toHaveLength(4);
      expect(calls).toBeGreaterThan(1);
    } else {
      await expect(loading).rejects.toMatchObject(failure);
      expect(calls).toBe(1);
    }
  });

  it('lets a non-data error during isolation through as well', async () => {
    const built = build(texts(10, [2]));
    const failure = new Error('Code: 241. DB::Exception: Memory limit exceeded');
    let calls = 0;
    const target: ChunkInsertTarget = {
      base: { table: { database: 'default', table: 'events' }, columns: ['id', 'value'], format: 'CSV' },
      settings: {},
      token: () => undefined,
      poison: Buffer.from('"a"b\n'),
      insert: async () => {
        calls++;
        if (calls === 1) throw new DataRejectedError('bad', '27', undefined);
        throw failure;
      },
    };
    await expect(loadChunk(built.chunk, target, 'reject', WHERE, indexCsv)).rejects.toBe(failure);
  });
});

describe('loadChunk, stopped while isolating', () => {
  /** Stops once more than `limit` rows of the chunk are rejected, as the pipeline does at its reject limit. */
  const stopAfter = (limit: number) => (rejectedSoFar: number) => {
    if (rejectedSoFar > limit) throw new ChuteError('REJECT_LIMIT_EXCEEDED', 'over the limit');
  };

  it('stops a chunk whose every row is bad at the limit, not after two inserts a row', async () => {
    const built = build(
      texts(
        200,
        Array.from({ length: 200 }, (_, i) => i + 1),
      ),
    );
    const target = new FakeTarget('exact', undefined, false);
    const loading = loadChunk(built.chunk, target, 'reject', WHERE, indexCsv, {
      beforeIsolating: stopAfter(5),
    });
    await expect(loading).rejects.toMatchObject({ code: 'REJECT_LIMIT_EXCEEDED' });
    expect(target.calls.length).toBeLessThan(20);
    expect(target.inserted).toEqual([]);
  });

  it('marks the chunk committed in part when rows went in without tokens, and not when they had tokens', async () => {
    // Good rows come first and are inserted before the bad ones push the chunk over the limit.
    const rows = texts(40, [20, 22, 24, 26, 28, 30, 32, 34]);
    for (const tokens of [false, true]) {
      const target = new FakeTarget('exact', undefined, tokens);
      const loading = loadChunk(build(rows).chunk, target, 'reject', WHERE, indexCsv, {
        beforeIsolating: stopAfter(3),
      });
      await expect(loading).rejects.toMatchObject({
        code: tokens ? 'REJECT_LIMIT_EXCEEDED' : 'INSERT_CUT_SHORT',
      });
      expect(target.inserted.length).toBeGreaterThan(0);
    }
  });

  it('asks before every isolating insert, and never for a clean chunk', async () => {
    let asked = 0;
    const count = () => {
      asked++;
    };
    await loadChunk(build(texts(10, [])).chunk, new FakeTarget(), 'reject', WHERE, indexCsv, {
      beforeIsolating: count,
    });
    expect(asked).toBe(0);
    const target = new FakeTarget();
    await loadChunk(build(texts(10, [4])).chunk, target, 'reject', WHERE, indexCsv, {
      beforeIsolating: count,
    });
    expect(asked).toBe(target.calls.length - 1);
  });
});

describe('loadChunk, deduplication tokens and settings', () => {
  it('passes, for every insert, the target’s token for exactly the rows sent', async () => {
    const built = build(texts(25, [3, 11, 12, 24]));
    const target = new FakeTarget('wrong');
    await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
    const all = built.rows.map((r) => r.text);
    for (const call of target.calls) {
      const match = /^version:0:(?:whole|(\d+)-(\d+))$/.exec(String(call.token));
      expect(match).not.toBeNull();
      const from = match?.[1] === undefined ? 0 : Number(match[1]);
      const to = match?.[2] === undefined ? all.length : Number(match[2]);
      expect(call.rows).toEqual(all.slice(from, to));
    }
  });

  it('sends the same inserts with the same tokens when the same chunk is loaded again', async () => {
    const run = async () => {
      const built = build(texts(40, [5, 6, 19, 33]), { blankEvery: 7 });
      const target = new FakeTarget('none');
      await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv);
      return target.calls.map((c) => ({ token: c.token, rows: c.rows }));
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(new Set(first.map((c) => c.token)).size).toBe(first.length);
  });

  it('adds the token to the target’s settings without losing them, and leaves it out when there is none', async () => {
    const built = build(texts(4, [2]));
    const withTokens = new FakeTarget('exact');
    await loadChunk(built.chunk, withTokens, 'reject', WHERE, indexCsv);
    for (const call of withTokens.calls) {
      expect(call.settings).toEqual({ ...withTokens.settings, insert_deduplication_token: call.token });
    }
    const withoutTokens = new FakeTarget('exact', undefined, false);
    await loadChunk(built.chunk, withoutTokens, 'reject', WHERE, indexCsv);
    expect(withoutTokens.calls.length).toBeGreaterThan(1);
    for (const call of withoutTokens.calls) {
      expect(call.settings).toEqual(withoutTokens.settings);
      expect('insert_deduplication_token' in call.settings).toBe(false);
    }
  });
});

/** A fake whose screen finds the rows whose value is exactly BAD; a row holding `BADLY` only ClickHouse refuses. */
class ScreeningTarget extends FakeTarget {
  screenCalls = 0;
  readonly screen = (chunk: Chunk, index: ReturnType<typeof indexCsv>) => {
    this.screenCalls++;
    const certain = new Map<number, string>();
    for (let row = 0; row < chunk.rows; row++) {
      const text = chunk.body.toString('utf8', index.offsets[row], (index.offsets[row + 1] ?? 0) - 1);
      if (text.endsWith(',BAD')) certain.set(row, 'screened out');
    }
    return certain;
  };
}

function screenAhead(chunk: Chunk, target: ScreeningTarget) {
  const index = indexCsv(chunk);
  const certain = target.screen(chunk, index);
  target.screenCalls = 0;
  return { index, certain };
}

describe('loadChunk, screened ahead', () => {
  it('sends the rows the screen kept in one insert, with no refused insert first', async () => {
    const built = build(texts(30, [4, 17, 29]));
    const target = new ScreeningTarget();
    let refusals = 0;
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv, {
      screened: screenAhead(built.chunk, target),
      onRefused: () => refusals++,
    });
    expect(target.calls.map((c) => c.ok)).toEqual([true]);
    expect(target.inserted).toEqual(goodRows(built));
    expect(outcome.inserted).toBe(27);
    expect(outcome.inserts).toBe(1);
    expect(outcome.rejected.map((r) => [r.line, r.row, r.reason, r.raw])).toEqual(
      built.rows.filter((r) => r.text.endsWith('BAD')).map((r) => [r.line, r.row, 'screened out', r.text]),
    );
    expect(refusals).toBe(0);
  });

  it('gives the kept rows the token the refuse-then-screen path gives them, so a retry deduplicates', async () => {
    const ahead = new ScreeningTarget();
    const built = build(texts(30, [4, 17, 29]));
    await loadChunk(built.chunk, ahead, 'reject', WHERE, indexCsv, {
      screened: screenAhead(built.chunk, ahead),
    });
    const after = new ScreeningTarget();
    await loadChunk(build(texts(30, [4, 17, 29])).chunk, after, 'reject', WHERE, indexCsv);
    expect(after.calls.map((c) => c.ok)).toEqual([false, true]);
    expect(ahead.calls[0]?.token).toBe(after.calls[1]?.token);
    expect(ahead.calls[0]?.token).toBe('version:0:0-30:without:3,16,28');
  });

  it('leaves to ClickHouse what the screen cannot see, without screening the chunk a second time', async () => {
    const rows = texts(20, [5]).map((text, i) => (i === 11 ? `${i + 1},BADLY` : text));
    const built = build(rows);
    const target = new ScreeningTarget();
    let refusals = 0;
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv, {
      screened: screenAhead(built.chunk, target),
      onRefused: () => refusals++,
    });
    expect(target.screenCalls).toBe(0);
    expect(refusals).toBe(1);
    expect(outcome.inserted).toBe(18);
    expect(outcome.rejected.map((r) => [r.row, r.reason.startsWith('ClickHouse code 27')])).toEqual([
      [5, false],
      [12, true],
    ]);
    expect(target.inserted.sort()).toEqual(
      built.rows
        .filter((r) => !r.text.includes('BAD'))
        .map((r) => r.text)
        .sort(),
    );
  });

  it('uses the close-time screening of a chunk whose streamed insert was refused, instead of screening again', async () => {
    // The chunk was inserting when an earlier chunk's refusal came: it went whole, and was screened as it closed.
    const built = build(texts(30, [4, 17, 29]));
    const target = new ScreeningTarget();
    const sentWhole = Promise.reject(new DataRejectedError('Cannot parse input (at row 4)', '27', 4));
    sentWhole.catch(() => undefined);
    const outcome = await loadChunk(built.chunk, target, 'reject', WHERE, indexCsv, {
      screened: screenAhead(built.chunk, target),
      sentWhole,
    });
    expect(target.screenCalls).toBe(0);
    expect(target.calls.map((c) => c.ok)).toEqual([true]);
    expect(target.inserted).toEqual(goodRows(built));
    expect(outcome.inserted).toBe(27);
    expect(outcome.rejected.map((r) => r.row)).toEqual([4, 17, 29]);
  });

  it('tells the caller of the first refusal once, and never for a clean chunk', async () => {
    let refusals = 0;
    const onRefused = () => refusals++;
    await loadChunk(build(texts(20, [])).chunk, new ScreeningTarget(), 'reject', WHERE, indexCsv, {
      onRefused,
    });
    expect(refusals).toBe(0);
    await loadChunk(build(texts(20, [2, 9, 15])).chunk, new FakeTarget(), 'reject', WHERE, indexCsv, {
      onRefused,
    });
    expect(refusals).toBe(1);
  });
});
