/**
 * Requests between cluster nodes over Redis pub/sub (see README "Cluster" for
 * why not a second HTTP listener): a request is published on the callee's
 * `vigil:rpc:<id>` channel and answered on the caller's `vigil:reply:<id>`.
 * `PUBLISH` returns how many subscribers got the message (Redis docs,
 * PUBLISH), so a request to a node that is gone fails at once with
 * {@link NodeUnreachableError} instead of waiting for the timeout.
 *
 * Pub/sub delivers at most once; a lost answer is a timeout, and every
 * request here is safe to repeat (opening a pipe again makes a new one; the
 * old one is closed when its viewers are gone or its node is).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { KEY, type ClusterRedisClients } from './cluster-types.ts';

/** The callee is not subscribed (dead, or its Redis connection is down). */
export class NodeUnreachableError extends Error {
  readonly code = 'node_unreachable';
  constructor(node: string) {
    super(`node ${node} is unreachable`);
    this.name = 'NodeUnreachableError';
  }
}

/** The callee answered with an error (`code` from its handler's error, e.g. `camera_offline`), or did not answer in time (`timeout`). */
export class NodeRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NodeRequestError';
    this.code = code;
  }
}

/** Handles one request method; throws an Error with a string `code` to answer an error. */
export type RpcHandler = (params: Record<string, unknown>, from: string) => Promise<Record<string, unknown>>;

interface Envelope {
  id: string;
  from: string;
  method?: string;
  params?: Record<string, unknown>;
  /** Answers only. */
  ok?: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** A notice: no answer expected. */
  notice?: boolean;
}

export class NodeRpc {
  readonly #redis: ClusterRedisClients;
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #handlers: Record<string, RpcHandler>;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #onMessage = (channel: string, message: string): void => this.#message(channel, message);
  readonly #subscribe = (): void => void this.#subscribeNow();
  #subscribed = false;
  #closed = false;

  /**
   * @param handlers request methods this node answers
   * @param timeoutMs how long a request waits for its answer
   */
  constructor(o: { redis: ClusterRedisClients; nodeId: string; logger: Logger; handlers: Record<string, RpcHandler>; timeoutMs: number }) {
    this.#redis = o.redis;
    this.#nodeId = o.nodeId;
    this.#log = o.logger;
    this.#handlers = o.handlers;
    this.#timeoutMs = o.timeoutMs;
  }

  /** Subscribes to this node's channels now (when Redis is up) and again every time Redis comes back. */
  start(): void {
    this.#redis.subscriber.on('message', this.#onMessage);
    this.#redis.on('up', this.#subscribe);
    this.#redis.subscriber.on('ready', this.#subscribe);
    this.#subscribe();
  }

  /** This node's request channel is subscribed (reported in the heartbeat). */
  get subscribed(): boolean {
    return this.#subscribed && this.#redis.subscriber.status === 'ready';
  }

  async #subscribeNow(): Promise<void> {
    if (this.#closed || this.#redis.subscriber.status !== 'ready') return;
    try {
      await this.#redis.subscriber.subscribe(KEY.rpc(this.#nodeId), KEY.reply(this.#nodeId));
      this.#subscribed = true;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cluster request channel not subscribed (Redis down?)');
    }
  }

  /**
   * Sends a request and waits for the answer.
   * @throws NodeUnreachableError when nobody listens on `to`'s channel;
   *   NodeRequestError with the callee's code, or `timeout`; the Redis error when Redis is down
   */
  async request(to: string, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = randomUUID();
    const env: Envelope = { id, from: this.#nodeId, method, params };
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new NodeRequestError('timeout', `node ${to} did not answer ${method} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    answer.catch(() => undefined);
    try {
      const receivers = await this.#redis.command.publish(KEY.rpc(to), JSON.stringify(env));
      if (receivers === 0) throw new NodeUnreachableError(to);
    } catch (err) {
      const p = this.#pending.get(id);
      if (p) clearTimeout(p.timer);
      this.#pending.delete(id);
      throw err;
    }
    return answer;
  }

  /** Sends a notice (no answer); best effort: a lost notice is logged at debug. */
  notify(to: string, method: string, params: Record<string, unknown>): void {
    const env: Envelope = { id: randomUUID(), from: this.#nodeId, method, params, notice: true };
    this.#redis.command.publish(KEY.rpc(to), JSON.stringify(env)).catch((err: unknown) => {
      this.#log.debug({ to, method, err: (err as Error).message }, 'cluster notice not sent');
    });
  }

  #message(channel: string, message: string): void {
    if (channel !== KEY.rpc(this.#nodeId) && channel !== KEY.reply(this.#nodeId)) return;
    let env: Envelope;
    try {
      env = JSON.parse(message) as Envelope;
    } catch {
      this.#log.warn({ channel }, 'malformed cluster message dropped');
      return;
    }
    if (channel === KEY.reply(this.#nodeId)) {
      const p = this.#pending.get(env.id);
      if (!p) return;
      this.#pending.delete(env.id);
      clearTimeout(p.timer);
      if (env.ok) p.resolve(env.result ?? {});
      else p.reject(new NodeRequestError(env.error?.code ?? 'internal', env.error?.message ?? 'request failed'));
      return;
    }
    void this.#serve(env);
  }

  async #serve(env: Envelope): Promise<void> {
    const handler = env.method === undefined ? undefined : this.#handlers[env.method];
    let answer: Envelope;
    try {
      if (!handler) throw Object.assign(new Error(`unknown method ${String(env.method)}`), { code: 'bad_request' });
      const result = await handler(env.params ?? {}, env.from);
      answer = { id: env.id, from: this.#nodeId, ok: true, result };
    } catch (err) {
      const e = err as Error & { code?: unknown };
      const code = typeof e.code === 'string' ? e.code : 'internal';
      if (code === 'internal') this.#log.warn({ method: env.method, from: env.from, err: e.message }, 'cluster request failed');
      answer = { id: env.id, from: this.#nodeId, ok: false, error: { code, message: e.message } };
    }
    if (env.notice || this.#closed) return;
    await this.#redis.command.publish(KEY.reply(env.from), JSON.stringify(answer)).catch((err: unknown) => {
      this.#log.debug({ to: env.from, err: (err as Error).message }, 'cluster answer not sent');
    });
  }

  /** Stops answering and fails pending requests. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.subscriber.off('message', this.#onMessage);
    this.#redis.off('up', this.#subscribe);
    this.#redis.subscriber.off('ready', this.#subscribe);
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new NodeRequestError('closed', 'node is shutting down'));
      this.#pending.delete(id);
    }
    if (this.#redis.subscriber.status === 'ready') {
      await this.#redis.subscriber.unsubscribe(KEY.rpc(this.#nodeId), KEY.reply(this.#nodeId)).catch(() => undefined);
    }
  }
}
