/**
 * CSV for the audit export: RFC 4180 (comma separated, CRLF line ends, a field
 * holding a comma, quote, CR or LF is quoted, quotes doubled). Text that a
 * spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
 * CR; OWASP "CSV Injection") is prefixed with `'`, since user agents come
 * from clients.
 */
import type { Viewing } from './audit-store.ts';

/** Column names of the export, in order. */
export const CSV_COLUMNS = [
  'id',
  'subject',
  'camera',
  'start',
  'end',
  'end_reason',
  'end_detail',
  'duration_s',
  'client_address',
  'user_agent',
  'session_id',
  'consumer_id',
  'token_id',
] as const;

/** One field: numbers as is, null/undefined empty, text guarded and quoted as needed. */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** One CSV record (with its CRLF) for a viewing; times ISO 8601 UTC, duration in s (3 decimals). */
export function viewingCsvLine(v: Viewing): string {
  const duration = v.endedAt === null ? null : Math.round(v.endedAt - v.startedAt) / 1000;
  return (
    [
      v.id,
      v.subject,
      v.camera,
      iso(v.startedAt),
      iso(v.endedAt),
      v.endReason,
      v.endDetail,
      duration,
      v.clientAddress,
      v.userAgent,
      v.sessionId,
      v.consumerId,
      v.tokenId,
    ]
      .map(csvField)
      .join(',') + '\r\n'
  );
}

/** The header record. */
export const CSV_HEADER = CSV_COLUMNS.join(',') + '\r\n';
