/**
 * Every failure chute raises on purpose is a ChuteError: a stable `code` that alarms and tests can match,
 * a message that names the object, line or field involved and says what to do, and the underlying `cause`.
 */
export type ChuteErrorCode =
  | 'CONFIG_INVALID'
  | 'ROUTE_NO_MATCH'
  | 'OBJECT_NOT_FOUND'
  | 'OBJECT_READ_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'HEADER_INVALID'
  | 'IDENTIFIER_INVALID'
  | 'RECORD_TOO_LARGE'
  | 'REJECT_LIMIT_EXCEEDED'
  | 'CLICKHOUSE_FAILED'
  | 'CLICKHOUSE_AUTH'
  | 'DEDUP_NOT_ENABLED'
  | 'CHUNKING_CHANGED'
  | 'TIMEOUT_HEADROOM'
  | 'LEDGER_LAYOUT'
  | 'INSERT_CUT_SHORT'
  | 'REJECTS_WRITE_FAILED'
  | 'USAGE';

export class ChuteError extends Error {
  override readonly name = 'ChuteError';
  readonly code: ChuteErrorCode;

  constructor(code: ChuteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isChuteError(error: unknown, code?: ChuteErrorCode): error is ChuteError {
  return error instanceof ChuteError && (code === undefined || error.code === code);
}

/** One line for logs: the message, then the causes, innermost last. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(' <- caused by: ');
}
