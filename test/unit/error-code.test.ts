import { describe, expect, it } from 'vitest';
import { isAuthenticationFailure } from '../../functions/core/clickhouse/error-code.ts';
import { ChuteError } from '../../functions/core/errors.ts';

describe('isAuthenticationFailure', () => {
  it('knows the codes with which servers refuse credentials, old message shape or new', () => {
    expect(
      isAuthenticationFailure(new Error('Code: 192, e.displayText() = DB::Exception: Unknown user x')),
    ).toBe(true);
    const modern = Object.assign(new Error('default: Authentication failed (AUTHENTICATION_FAILED)'), {
      code: '516',
    });
    expect(isAuthenticationFailure(modern)).toBe(true);
  });

  it('finds one under the ChuteError that wraps it', () => {
    const cause = new Error('Code: 516. DB::Exception: default: Authentication failed');
    const wrapped = new ChuteError('CLICKHOUSE_FAILED', 's3://b/k.csv: cannot describe table t', { cause });
    expect(isAuthenticationFailure(wrapped)).toBe(true);
  });

  it("never reads chute's own messages, which quote rows, reasons and keys", () => {
    const refusal = Object.assign(
      new Error('Cannot parse input: expected Int32, got "see Code: 516. later"'),
      {
        code: '27',
      },
    );
    const limit = new ChuteError(
      'REJECT_LIMIT_EXCEEDED',
      's3://b/in/daily Code: 193, r.csv: more than 0 rows rejected (last at line 2: see Code: 516. later)',
      { cause: refusal },
    );
    expect(isAuthenticationFailure(limit)).toBe(false);
  });

  it('is false for every other failure', () => {
    expect(
      isAuthenticationFailure(new Error('Code: 60, e.displayText() = DB::Exception: Table x does not exist')),
    ).toBe(false);
    expect(isAuthenticationFailure(new Error('socket hang up'))).toBe(false);
    expect(isAuthenticationFailure('Code: 516.')).toBe(false);
  });
});
