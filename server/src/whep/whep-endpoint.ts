/**
 * The WHEP endpoint (WebRTC-HTTP Egress Protocol, draft-ietf-wish-whep, built
 * on WHIP, RFC 9725), a fastify plugin:
 *
 * - `POST /whep/<camera>` (`Content-Type: application/sdp`, `Authorization:
 *   Bearer <viewer JWT>`, optional `?quality=low`): 201 Created with the SDP
 *   answer, `Location` (the session URL), `ETag` and `Accept-Patch`;
 * - `PATCH <session URL>` (`application/trickle-ice-sdpfrag`, RFC 8840):
 *   trickled candidates 204, ICE restart 200 with Vigil's fragment and a new
 *   `ETag`; a stale `If-Match` 412;
 * - `DELETE <session URL>`: 200, the session ends;
 * - `OPTIONS` on both: CORS preflight and `Accept-Post` / `Accept-Patch`
 *   (RFC 9725 §4.2, §4.6).
 *
 * Errors are JSON `{ error: { code, message } }` with the status saying what
 * to do: 400 bad SDP or fragment, 401 token missing/invalid/expired/revoked
 * (`WWW-Authenticate: Bearer`, RFC 6750 §3), 403 an origin not allowed, 404
 * camera unknown or outside the token's scope (one answer, as on the
 * WebSocket) or session unknown, 406 no offered codec can carry the camera,
 * 412 stale If-Match, 415 wrong Content-Type, 429 rate limit or stream quota
 * (`Retry-After`), 503 camera offline or server shutting down.
 *
 * CORS (Fetch standard): an `Origin` is allowed when it is the server's own or
 * listed in `http.allowedOrigins` (the WebSocket rule); requests without one
 * (curl, aiortc, GStreamer) are not browsers and pass.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ProtocolError, type Quality } from '@vigil/protocol';
import type { SignalingServer } from '../signaling/signaling-server.ts';
import { isOriginAllowed } from '../signaling/origin.ts';
import { MAX_SDP_BYTES, WhepError } from './whep-sdp.ts';
import { httpStatusOf, WhepSession } from './whep-session.ts';

/** Path prefix of the endpoint; a camera's URL is `${WHEP_PATH}/<camera id>`. */
export const WHEP_PATH = '/whep';
/** Path prefix of session resources (`${WHEP_SESSION_PATH}/<id>`). */
export const WHEP_SESSION_PATH = '/whep-sessions';

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';
/** Same rule as the SDK protocol's camera ids. */
const CAMERA_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export interface WhepEndpointOptions {
  signaling: SignalingServer;
  /** Extra allowed origins beyond same-origin (`http.allowedOrigins`). */
  allowedOrigins: readonly string[];
  logger: Logger;
}

/** Open WHEP sessions by resource id. */
export type WhepSessions = ReadonlyMap<string, WhepSession>;

/**
 * Registers the WHEP routes on `app` (encapsulated: its content-type parsers
 * stay inside).
 * @returns the open sessions (for tests and the composition root)
 */
export async function registerWhep(app: FastifyInstance, o: WhepEndpointOptions): Promise<WhepSessions> {
  const sessions = new Map<string, WhepSession>();
  const log = o.logger.child({ component: 'whep' });
  await app.register(async (scope) => {
    scope.addContentTypeParser([SDP, SDPFRAG], { parseAs: 'string', bodyLimit: MAX_SDP_BYTES }, (_req, body, done) => done(null, body));
    scope.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (origin === undefined) return;
      if (!isOriginAllowed(origin, req.headers.host, o.allowedOrigins)) {
        log.warn({ origin: origin.slice(0, 256), remoteAddress: req.socket.remoteAddress }, 'whep origin refused');
        return fail(reply, new WhepError(403, 'forbidden_origin', 'this origin may not use the WHEP endpoint'));
      }
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Vary', 'Origin');
      reply.header('Access-Control-Expose-Headers', 'Location, ETag, Accept-Patch, Accept-Post, Retry-After, WWW-Authenticate');
    });

    const preflight = (methods: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
      reply.header('Access-Control-Allow-Methods', methods);
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
      reply.header('Access-Control-Max-Age', '600');
      reply.header('Allow', methods);
      return reply.code(204).send();
    };
    scope.options(`${WHEP_PATH}/*`, async (req, reply) => {
      reply.header('Accept-Post', SDP);
      return preflight('POST, OPTIONS')(req, reply);
    });
    scope.options(`${WHEP_SESSION_PATH}/:id`, async (req, reply) => {
      reply.header('Accept-Patch', SDPFRAG);
      return preflight('PATCH, DELETE, OPTIONS')(req, reply);
    });

    scope.post(`${WHEP_PATH}/*`, async (req, reply) => {
      const cameraId = (req.params as { '*': string })['*'];
      if (!o.signaling.accepting) return fail(reply, new WhepError(503, 'shutting_down', 'server is shutting down', 2));
      if (!isType(req, SDP)) return fail(reply, new WhepError(415, 'unsupported_media_type', `send the offer as ${SDP}`));
      const token = bearer(req.headers.authorization);
      if (!token) return fail(reply, new WhepError(401, 'unauthorized', 'send a viewer token as Authorization: Bearer <token>'));
      if (!CAMERA_ID.test(cameraId)) return fail(reply, new WhepError(404, 'forbidden', 'camera not available to this token'));
      const q = (req.query as { quality?: string }).quality;
      if (q !== undefined && q !== 'high' && q !== 'low') return fail(reply, new WhepError(400, 'bad_request', 'quality must be high or low'));
      let session: WhepSession;
      try {
        session = await WhepSession.open({
          signaling: o.signaling,
          token,
          cameraId,
          quality: (q ?? 'high') as Quality,
          offerSdp: typeof req.body === 'string' ? req.body : '',
          // The address a trusted proxy passed, as for the WebSocket (rate limits and audit).
          remoteAddress: o.signaling.clientAddress(req.raw),
          userAgent: req.headers['user-agent']?.slice(0, 256),
          onEnd: (s) => sessions.delete(s.id),
        });
      } catch (err) {
        return fail(reply, toWhepError(err, log));
      }
      sessions.set(session.id, session);
      log.info({ sessionId: session.sessionId, cameraId }, 'whep session open');
      reply.header('Location', `${WHEP_SESSION_PATH}/${session.id}`);
      reply.header('ETag', session.etag);
      reply.header('Accept-Patch', SDPFRAG);
      return reply.code(201).type(SDP).send(session.answer);
    });

    scope.patch(`${WHEP_SESSION_PATH}/:id`, async (req, reply) => {
      const session = sessions.get((req.params as { id: string }).id);
      if (!session || session.ended) return fail(reply, new WhepError(404, 'not_found', 'no such WHEP session'));
      if (!isType(req, SDPFRAG)) return fail(reply, new WhepError(415, 'unsupported_media_type', `send ${SDPFRAG} (RFC 8840)`));
      try {
        const fragment = await session.patch(typeof req.body === 'string' ? req.body : '', header(req.headers['if-match']));
        reply.header('ETag', session.etag);
        if (fragment === undefined) return reply.code(204).send();
        return reply.code(200).type(SDPFRAG).send(fragment);
      } catch (err) {
        return fail(reply, toWhepError(err, log));
      }
    });

    scope.delete(`${WHEP_SESSION_PATH}/:id`, async (req, reply) => {
      const session = sessions.get((req.params as { id: string }).id);
      if (!session || session.ended) return fail(reply, new WhepError(404, 'not_found', 'no such WHEP session'));
      session.close();
      return reply.code(200).send();
    });
  });
  return sessions;
}

function isType(req: FastifyRequest, type: string): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === type;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined. */
function bearer(authorization: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

function toWhepError(err: unknown, log: Logger): WhepError {
  if (err instanceof WhepError) return err;
  if (err instanceof ProtocolError) {
    const { status, retryAfterSec } = httpStatusOf(err.code);
    return new WhepError(status, err.code, err.message, retryAfterSec);
  }
  log.error({ err: (err as Error)?.message }, 'whep request failed');
  return new WhepError(500, 'internal', 'internal error');
}

function fail(reply: FastifyReply, e: WhepError): FastifyReply {
  if (e.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="vigil"');
  if (e.retryAfterSec !== undefined) reply.header('Retry-After', String(e.retryAfterSec));
  return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
}
