import { describe, expect, it } from 'vitest';
import { parseConfig, parseRoute } from '../../functions/core/config/parse.ts';
import { ChuteError } from '../../functions/core/errors.ts';
import { checkSameCut, cutSignature } from '../../functions/core/pipeline/cut-rules.ts';
import type { CommittedChunk } from '../../functions/core/ports/ledger.ts';

const ROUTE_INPUT = { prefix: 'in/', table: 'events', format: 'csv' } as const;
const route = parseRoute(ROUTE_INPUT);
const chunking = (overrides: Record<string, number> = {}) =>
  parseConfig({ clickhouse: { url: 'http://127.0.0.1:8123' }, routes: [ROUTE_INPUT], chunking: overrides })
    .chunking;

function committed(...cuts: string[]): Map<number, CommittedChunk> {
  return new Map(cuts.map((cut, chunk) => [chunk, { chunk, rowsInserted: 10, rejected: [], cut }]));
}

describe('cutSignature', () => {
  it('is the same for the same settings, and differs when anything that moves a chunk boundary does', () => {
    const base = cutSignature(route, chunking());
    expect(cutSignature(route, chunking())).toBe(base);
    const variants = [
      cutSignature(route, chunking({ maxBytes: 4096 })),
      cutSignature(route, chunking({ maxRows: 1000 })),
      cutSignature(route, chunking({ maxRecordBytes: 4096 })),
      cutSignature(parseRoute({ ...ROUTE_INPUT, delimiter: ';' }), chunking()),
      cutSignature(parseRoute({ ...ROUTE_INPUT, format: 'tsv' }), chunking()),
      cutSignature(parseRoute({ ...ROUTE_INPUT, header: false, columns: ['a'] }), chunking()),
      cutSignature(route, chunking(), 'NA'),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('does not depend on settings that leave chunk boundaries alone, nor on spelling out a default', () => {
    expect(cutSignature(route, chunking({ insertsInFlight: 2 }))).toBe(cutSignature(route, chunking()));
    expect(cutSignature(parseRoute({ ...ROUTE_INPUT, delimiter: ',' }), chunking())).toBe(
      cutSignature(route, chunking()),
    );
  });
});

describe('checkSameCut', () => {
  const now = cutSignature(route, chunking());

  it('accepts no records, records cut the same way, and records from before the rules were kept', () => {
    expect(() => checkSameCut(new Map(), now, 's3://b/k')).not.toThrow();
    expect(() => checkSameCut(committed(now, now), now, 's3://b/k')).not.toThrow();
    expect(() => checkSameCut(committed('', now), now, 's3://b/k')).not.toThrow();
  });

  it('refuses records cut by other rules, naming the object, the chunks, then and now, and what to do', () => {
    const then = cutSignature(route, chunking({ maxBytes: 4096 }));
    let thrown: unknown;
    try {
      checkSameCut(committed(now, then, now), now, 's3://landing/in/a.csv');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ChuteError);
    expect(thrown).toMatchObject({ code: 'CHUNKING_CHANGED' });
    const message = (thrown as Error).message;
    expect(message).toContain('s3://landing/in/a.csv');
    expect(message).toContain('chunk(s) 0, 1, 2');
    expect(message).toContain(`then: ${then}; now: ${now}`);
    expect(message).toMatch(/Restore the earlier chunking settings/);
  });
});
