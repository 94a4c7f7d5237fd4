import { REJECTS_SUFFIX } from '../config/schema.ts';
import { type ObjectRef, objectLabel, type RejectedRow } from '../ports/object-store.ts';

/** What identifies the object version: the version id, else the ETag (unquoted), else 'unversioned'. */
export function versionLabel(ref: ObjectRef): string {
  return ref.versionId ?? ref.eTag?.replace(/"/g, '') ?? 'unversioned';
}

/** `<prefix><source key>@<version>.rejects.ndjson`: one rejects object per object version, rewritten on retry. */
export function rejectsKey(prefix: string, ref: ObjectRef): string {
  return `${prefix}${ref.key}@${versionLabel(ref)}${REJECTS_SUFFIX}`;
}

export function rejectsLine(ref: ObjectRef, row: RejectedRow): string {
  return `${JSON.stringify({
    source: objectLabel(ref.bucket, ref.key),
    version: versionLabel(ref),
    line: row.line,
    row: row.row,
    reason: row.reason,
    raw: row.raw,
  })}\n`;
}
