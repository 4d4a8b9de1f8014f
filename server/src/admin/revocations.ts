/**
 * Admin routes for revocation (the deny list, ../auth/deny-list.ts):
 *
 * - `POST /revocations` `{ jti } | { subject }`, optional `reason` (text) and
 *   `ttlSec` (the entry lapses after it; absent: until lifted). Live sessions
 *   holding the token or subject are ended at once (`sessionClosed` with
 *   reason `revoked`) before the answer; later `join`/`refresh` with it are
 *   refused `unauthorized`. 201 `{ revocation, sessionsEnded }`, once on disk.
 * - `GET /revocations`: `{ revocations: [...] }` (lapsed entries left out).
 * - `DELETE /revocations/jti/:value`, `DELETE /revocations/subject/:value`:
 *   lifts one; 204, or 404 `{ code: 'not_found' }`.
 *
 * In a cluster (config `cluster`) a revocation or a lift goes through the
 * shared store first (../cluster/redis-deny-list.ts) and reaches every node;
 * while that store is unreachable both answer 503 `{ code: 'cluster_unavailable' }`
 * and change nothing (the operator retries; never a silent partial revocation).
 * `sessionsEnded` then counts this node's sessions; other nodes end theirs as
 * the announcement reaches them (well under a second).
 */
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { AdminDeps } from './admin-types.ts';
import { DenyListError, type DenyKind } from '../auth/deny-list.ts';
import { ClusterUnavailableError } from '../cluster/redis.ts';

const CLUSTER_UNAVAILABLE = { code: 'cluster_unavailable', message: 'the shared revocation store is unreachable: nothing changed, retry' } as const;

/**
 * Strict validation for these routes: fastify's default ajv silently drops
 * unknown fields and coerces types; a revocation request that is not exactly
 * what was meant is refused (400) instead.
 */
const strictAjv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false });
const strict: FastifySchemaCompiler<unknown> = ({ schema }) => strictAjv.compile(schema as object);

const Value = { type: 'string', minLength: 1, maxLength: 256 } as const;

const RevokeBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    jti: Value,
    subject: Value,
    reason: { type: 'string', maxLength: 512 },
    ttlSec: { type: 'integer', minimum: 1, maximum: 10 * 365 * 86_400 },
  },
  oneOf: [{ required: ['jti'] }, { required: ['subject'] }],
} as const;

interface RevokeRequest {
  jti?: string;
  subject?: string;
  reason?: string;
  ttlSec?: number;
}

/** Registers the revocation routes on the admin plugin. */
export async function registerRevocationRoutes(app: FastifyInstance, { sessions, access }: AdminDeps): Promise<void> {
  const denyList = access.denyList;

  app.post<{ Body: RevokeRequest }>('/revocations', { schema: { body: RevokeBody }, validatorCompiler: strict }, async (req, reply) => {
    const { jti, subject, reason, ttlSec } = req.body;
    const kind: DenyKind = jti !== undefined ? 'jti' : 'subject';
    const value = (jti ?? subject)!;
    const now = Date.now();
    // Adding emits `added`, on which SignalingServer ends the matching live
    // sessions synchronously; count them for the answer.
    const entry = { kind, value, createdAt: now };
    const holders = [...sessions].filter((s) => !s.closed && s.holdsDenied(entry));
    let revocation;
    try {
      revocation = await denyList.add({ kind, value, reason, expiresAt: ttlSec === undefined ? undefined : now + ttlSec * 1000 }, now);
    } catch (err) {
      if (err instanceof DenyListError) return reply.code(507).send({ code: 'deny_list_full', message: 'deny list is full' });
      if (err instanceof ClusterUnavailableError) return reply.code(503).send(CLUSTER_UNAVAILABLE);
      req.log.error({ err: (err as Error).message }, 'revocation not persisted');
      return reply.code(500).send({ code: 'internal', message: 'revocation enforced but not persisted; see server log' });
    }
    const sessionsEnded = holders.filter((s) => s.closed).length;
    req.log.info({ kind, sessionsEnded }, 'revocation added');
    return reply.code(201).send({ revocation, sessionsEnded });
  });

  app.get('/revocations', async () => ({ revocations: denyList.list() }));

  app.delete<{ Params: { kind: string; value: string } }>(
    '/revocations/:kind/:value',
    {
      validatorCompiler: strict,
      schema: {
        params: {
          type: 'object',
          properties: { kind: { type: 'string', enum: ['jti', 'subject'] }, value: Value },
          required: ['kind', 'value'],
        },
      },
    },
    async (req, reply) => {
      let removed: boolean;
      try {
        removed = await denyList.remove(req.params.kind as DenyKind, req.params.value);
      } catch (err) {
        if (err instanceof ClusterUnavailableError) return reply.code(503).send(CLUSTER_UNAVAILABLE);
        throw err;
      }
      if (!removed) return reply.code(404).send({ code: 'not_found', message: 'no such revocation' });
      return reply.code(204).send();
    },
  );
}
