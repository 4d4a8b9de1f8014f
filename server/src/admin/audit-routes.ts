/**
 * Admin routes for the audit trail:
 *
 * - `GET /audit/viewings?subject=&camera=&from=&to=&open=&after=&limit=` → JSON
 *   `{ viewings: [...], next: <cursor> | null }` (pass `next` as `after` for
 *   the next page; at most `limit`, default 500, max 5000 per page);
 * - `GET /audit/viewings.csv?subject=&camera=&from=&to=&open=` → every matching
 *   viewing as RFC 4180 CSV, streamed page by page.
 *
 * `from` / `to` are ISO 8601 date-times or ms since epoch; a viewing matches
 * when it overlaps [from, to); `open=true` keeps the viewings still running
 * (who is watching now), `open=false` the ended ones. With the shared
 * PostgreSQL store every node's viewings are answered (each with its `node`).
 * Bad parameters get 400 `{ code: 'bad_request' }`; a store that cannot be
 * read now gets 503 `{ code: 'audit_unavailable' }`.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AuditStore, Viewing, ViewingQuery } from '../audit/audit-store.ts';
import { CSV_HEADER, viewingCsvLine } from '../audit/csv.ts';

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 5000;
const EXPORT_PAGE = 1000;

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 256 },
    camera: { type: 'string', minLength: 1, maxLength: 128 },
    from: { type: 'string', minLength: 1, maxLength: 64 },
    to: { type: 'string', minLength: 1, maxLength: 64 },
    open: { type: 'boolean' },
    after: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
  },
} as const;

interface RawQuery {
  subject?: string;
  camera?: string;
  from?: string;
  to?: string;
  open?: boolean;
  after?: number;
  limit?: number;
}

class BadQuery extends Error {}

/** ISO 8601 date-time or integer ms since epoch -> ms; throws BadQuery naming the parameter. */
function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new BadQuery(`${name}: expected an ISO 8601 date-time or ms since epoch`);
  return ms;
}

function toQuery(q: RawQuery, limit: number): ViewingQuery {
  const from = parseTime('from', q.from);
  const to = parseTime('to', q.to);
  if (from !== undefined && to !== undefined && from >= to) throw new BadQuery('from: must be before to');
  return {
    ...(q.subject === undefined ? {} : { subject: q.subject }),
    ...(q.camera === undefined ? {} : { camera: q.camera }),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(q.open === undefined ? {} : { open: q.open }),
    ...(q.after === undefined ? {} : { afterId: q.after }),
    limit,
  };
}

/** JSON shape of a viewing: ISO times, duration in s. */
function viewingJson(v: Viewing) {
  return {
    id: v.id,
    subject: v.subject,
    camera: v.camera,
    start: new Date(v.startedAt).toISOString(),
    end: v.endedAt === null ? null : new Date(v.endedAt).toISOString(),
    endReason: v.endReason,
    endDetail: v.endDetail,
    durationSec: v.endedAt === null ? null : (v.endedAt - v.startedAt) / 1000,
    clientAddress: v.clientAddress,
    userAgent: v.userAgent,
    sessionId: v.sessionId,
    consumerId: v.consumerId,
    tokenId: v.tokenId,
    node: v.node,
  };
}

function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ code: 'bad_request', message });
}

/** Registers the audit routes; without a store (audit disabled) they answer 404 `audit_disabled`. */
export async function registerAuditRoutes(app: FastifyInstance, store: AuditStore | undefined): Promise<void> {
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, _req, reply) => {
    if (err.validation) return badRequest(reply, err.message);
    if (store?.isUnavailable(err)) {
      reply.log.warn({ err: err.message }, 'audit store unavailable for a query');
      return reply.code(503).send({ code: 'audit_unavailable', message: 'the audit store cannot be read now' });
    }
    reply.log.error({ err: err.message }, 'admin request failed');
    return reply.code(err.statusCode ?? 500).send({ code: 'internal', message: 'internal error' });
  });

  app.get<{ Querystring: RawQuery }>('/audit/viewings', { schema: { querystring: querySchema } }, async (req, reply) => {
    if (!store) return reply.code(404).send({ code: 'audit_disabled', message: 'the audit trail is disabled' });
    let q: ViewingQuery;
    try {
      q = toQuery(req.query, req.query.limit ?? DEFAULT_LIMIT);
    } catch (err) {
      if (err instanceof BadQuery) return badRequest(reply, err.message);
      throw err;
    }
    const rows = await store.query(q);
    const next = rows.length === q.limit ? rows[rows.length - 1]!.id : null;
    return { viewings: rows.map(viewingJson), next };
  });

  app.get<{ Querystring: RawQuery }>('/audit/viewings.csv', { schema: { querystring: querySchema } }, async (req, reply) => {
    if (!store) return reply.code(404).send({ code: 'audit_disabled', message: 'the audit trail is disabled' });
    let q: ViewingQuery;
    try {
      q = toQuery({ ...req.query, limit: undefined }, EXPORT_PAGE);
    } catch (err) {
      if (err instanceof BadQuery) return badRequest(reply, err.message);
      throw err;
    }
    async function* lines(): AsyncGenerator<string> {
      yield CSV_HEADER;
      for await (const v of store!.iterate(q)) yield viewingCsvLine(v);
    }
    return reply
      .type('text/csv; charset=utf-8; header=present')
      .header('content-disposition', 'attachment; filename="vigil-viewings.csv"')
      .send(Readable.from(lines()));
  });
}
