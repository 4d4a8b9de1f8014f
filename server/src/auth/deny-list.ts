/**
 * The deny list: revoked token ids (`jti`) and subjects (`sub`). A token it
 * matches is refused at join and refresh, and live sessions holding one are
 * ended (by whoever listens to `added`, see vigil.ts).
 *
 * Durable across restarts: kept in a JSON file `{ version: 1, entries }`
 * replaced atomically (write a temporary file in the same directory, fsync it,
 * rename(2) over the old one, fsync the directory: POSIX rename is atomic, so
 * a crash leaves the old or the new list, never a torn one). Writes are
 * serialized. A file that exists but cannot be parsed stops the start rather
 * than silently un-revoking everyone.
 *
 * In a cluster the list is shared ({@link DenyListShare}, Redis in
 * server/src/cluster/redis-deny-list.ts): `add`/`remove` write the shared
 * store first and fail (nothing changed here) while it is unreachable; entries
 * other nodes add arrive through {@link applyShared} / {@link replaceShared}
 * and end live sessions here the same way (`added`). The file stays as this
 * node's copy, so a node starting while the store is down still refuses what
 * it knew.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';

export type DenyKind = 'jti' | 'subject';

export interface DenyEntry {
  kind: DenyKind;
  /** The revoked `jti` or `sub` value (1-256 chars). */
  value: string;
  /** Free text for operators (at most 512 chars). */
  reason?: string | undefined;
  /** When it was revoked, ms since epoch. */
  createdAt: number;
  /** When the entry lapses, ms since epoch; absent: never (until removed). */
  expiresAt?: number | undefined;
}

/** What a deny entry is matched against. */
export interface DenyCandidate {
  subject: string;
  /** Every token id the holder has presented (join and refreshes). */
  tokenIds: Iterable<string | undefined>;
}

/** Most entries kept (a bound on memory and file size). */
export const MAX_DENY_ENTRIES = 100_000;

/** The deny list file is unreadable or corrupt, or the list is full. */
export class DenyListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DenyListError';
  }
}

/**
 * Where a clustered deny list keeps and announces its entries (one store for
 * every node). Implemented by RedisDenyList (server/src/cluster/redis-deny-list.ts).
 */
export interface DenyListShare {
  /**
   * Stores `entry` and announces it to every node.
   * @throws ClusterUnavailableError (`code` 'cluster_unavailable') while the store is unreachable
   */
  add(entry: DenyEntry): Promise<void>;
  /**
   * Removes an entry everywhere.
   * @returns false when the store had no such entry
   * @throws ClusterUnavailableError while the store is unreachable
   */
  remove(kind: DenyKind, value: string): Promise<boolean>;
}

export interface DenyListEvents {
  /** An entry was added (before it is persisted: enforcement does not wait for the disk). */
  added: [entry: DenyEntry];
}

const key = (kind: DenyKind, value: string): string => `${kind}\u0000${value}`;

export class DenyList extends EventEmitter<DenyListEvents> {
  readonly file: string;
  readonly #entries = new Map<string, DenyEntry>();
  readonly #log: Logger;
  #writes: Promise<void> = Promise.resolve();
  #share: DenyListShare | undefined;
  #storeId: string | undefined;

  private constructor(file: string, logger: Logger) {
    super();
    this.file = file;
    this.#log = logger.child({ component: 'deny-list' });
  }

  /**
   * Opens (or starts) the deny list kept in `file` (a missing file is an empty list).
   * @throws DenyListError when the file exists but cannot be read or parsed
   */
  static async open(file: string, logger: Logger): Promise<DenyList> {
    const list = new DenyList(resolve(file), logger);
    let text: string | undefined;
    try {
      text = await readFile(list.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Stryker: the `?? ""` mutant of the 'error' fallback is equivalent: fs errors always carry a code
        throw new DenyListError(`cannot read deny list ${list.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    if (text !== undefined) {
      let doc: { version?: unknown; entries?: unknown; storeId?: unknown };
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch {
        throw new DenyListError(`deny list ${list.file} is not valid JSON`);
      }
      if (doc?.version !== 1 || !Array.isArray(doc.entries)) throw new DenyListError(`deny list ${list.file} has an unknown format`);
      for (const e of doc.entries as unknown[]) if (isDenyEntry(e)) list.#entries.set(key(e.kind, e.value), e);
      if (typeof doc.storeId === 'string') list.#storeId = doc.storeId;
    }
    list.#log.info({ file: list.file, entries: list.#entries.size }, 'deny list loaded');
    return list;
  }

  /**
   * Shares this list with every node through `share` (cluster mode): from
   * now on `add` and `remove` go through it first.
   */
  shareWith(share: DenyListShare): void {
    this.#share = share;
  }

  /**
   * The identity of the shared store this list last caught up with (cluster
   * mode; kept in the file): only a catch-up with that same store may drop
   * entries. Undefined for a list that never caught up.
   */
  get storeId(): string | undefined {
    return this.#storeId;
  }

  /** Live entries (lapsed ones are left out). */
  list(now = Date.now()): DenyEntry[] {
    return [...this.#entries.values()].filter((e) => !lapsed(e, now));
  }

  /** The entry denying this grant holder, if any. */
  match(c: DenyCandidate, now = Date.now()): DenyEntry | undefined {
    const bySubject = this.#entries.get(key('subject', c.subject));
    if (bySubject && !lapsed(bySubject, now)) return bySubject;
    for (const jti of c.tokenIds) {
      if (jti === undefined) continue;
      const e = this.#entries.get(key('jti', jti));
      if (e && !lapsed(e, now)) return e;
    }
    return undefined;
  }

  /**
   * Revokes a jti or subject: in a cluster, first stored and announced to
   * every node; then enforced at once in memory (`added` is emitted
   * synchronously), then persisted to this node's file.
   * @returns the stored entry, once it is on disk
   * @throws DenyListError when the list is full; ClusterUnavailableError when
   *   the shared store is unreachable (nothing was revoked); an fs error when it
   *   cannot be persisted (the entry stays enforced in this process)
   */
  async add(entry: Omit<DenyEntry, 'createdAt'>, now = Date.now()): Promise<DenyEntry> {
    const k = key(entry.kind, entry.value);
    // Stryker: the `size >= MAX_DENY_ENTRIES` → `true` mutant is equivalent: pruning on every new entry only
    // drops entries lapsed at `now`, which list() and match() never return.
    if (!this.#entries.has(k) && this.#entries.size >= MAX_DENY_ENTRIES) {
      this.#prune(now);
      if (this.#entries.size >= MAX_DENY_ENTRIES) throw new DenyListError('deny list is full');
    }
    const stored: DenyEntry = { ...entry, createdAt: now };
    if (this.#share) await this.#share.add(stored);
    this.#set(stored);
    this.#log.info({ kind: stored.kind, expiresAt: stored.expiresAt }, 'revoked');
    await this.#persist();
    return stored;
  }

  /**
   * Lifts a revocation (in a cluster: everywhere, through the shared store first).
   * @returns false when there was no such entry
   * @throws ClusterUnavailableError when the shared store is unreachable (nothing was lifted)
   */
  async remove(kind: DenyKind, value: string): Promise<boolean> {
    const shared = this.#share ? await this.#share.remove(kind, value) : false;
    if (!this.#entries.delete(key(kind, value)) && !shared) return false;
    this.#log.info({ kind }, 'revocation lifted');
    await this.#persist();
    return true;
  }

  /**
   * An entry another node added (cluster mode, from the shared store): enforced
   * at once (`added`, unless this exact entry is already here), then persisted.
   * Write errors are logged, not thrown (the entry stays enforced).
   */
  applyShared(entry: DenyEntry): void {
    if (!this.#set(entry)) return;
    this.#persist().catch(() => {});
  }

  /** A revocation lifted on another node (cluster mode). */
  forgetShared(kind: DenyKind, value: string): void {
    if (this.#entries.delete(key(kind, value))) this.#persist().catch(() => {});
  }

  /**
   * Catch-up with the shared store (at start and when it is reachable again):
   * `entries` becomes the list. Entries new here are enforced (`added`); entries
   * the store no longer holds were lifted elsewhere meanwhile and are dropped.
   * The caller merges first when the store is not the one this list last
   * caught up with (see RedisDenyList), so an emptied store never lifts anything.
   * @param storeId the store's identity, remembered (and persisted) as {@link storeId}
   * @returns how many entries were new here and how many were dropped
   */
  replaceShared(entries: readonly DenyEntry[], storeId?: string): { added: number; dropped: number } {
    const wanted = new Map(entries.map((e) => [key(e.kind, e.value), e]));
    const newStore = storeId !== undefined && storeId !== this.#storeId;
    if (storeId !== undefined) this.#storeId = storeId;
    let dropped = 0;
    for (const k of [...this.#entries.keys()]) {
      if (!wanted.has(k)) {
        this.#entries.delete(k);
        dropped++;
      }
    }
    let added = 0;
    for (const e of wanted.values()) if (this.#set(e)) added++;
    if (added > 0 || dropped > 0 || newStore) this.#persist().catch(() => {});
    return { added, dropped };
  }

  /** Stores `e` and emits `added` unless the same entry (same createdAt and expiry) is already held; true when it was new. */
  #set(e: DenyEntry): boolean {
    const k = key(e.kind, e.value);
    const old = this.#entries.get(k);
    if (old && old.createdAt === e.createdAt && old.expiresAt === e.expiresAt) return false;
    this.#entries.set(k, e);
    this.emit('added', e);
    return true;
  }

  #prune(now: number): void {
    for (const [k, e] of this.#entries) if (lapsed(e, now)) this.#entries.delete(k);
  }

  /** Queues a write of the current list; resolves when that write (or a later one) is durable. */
  #persist(): Promise<void> {
    const run = this.#writes.then(() => this.#write());
    this.#writes = run.catch(() => {});
    return run;
  }

  async #write(): Promise<void> {
    this.#prune(Date.now());
    const dir = dirname(this.file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const body = JSON.stringify({ version: 1, entries: [...this.#entries.values()], ...(this.#storeId ? { storeId: this.#storeId } : {}) });
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      this.#log.error({ err: (err as Error).message, file: this.file }, 'deny list write failed');
      // Best effort: when open() itself failed there is no temporary file, and
      // an error removing it must not hide the write failure.
      await rm(tmp).catch(() => {});
      throw err;
    }
    const d = await open(dir, 'r');
    // Stryker disable next-line BlockStatement: fsync of the directory makes the rename durable across a power loss; no test can observe it without one
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  /** Resolves when every queued write has finished. */
  async flush(): Promise<void> {
    await this.#writes;
  }
}

/** True when `e` has the shape of a stored entry (kind, value, createdAt); read from a file or the shared store. */
export function isDenyEntry(e: unknown): e is DenyEntry {
  const d = e as Partial<DenyEntry> | null | undefined;
  return (d?.kind === 'jti' || d?.kind === 'subject') && typeof d.value === 'string' && typeof d.createdAt === 'number';
}

/** True when `e` denies `c` (same subject, or one of its token ids). */
export function entryMatches(e: DenyEntry, c: DenyCandidate): boolean {
  if (e.kind === 'subject') return e.value === c.subject;
  for (const jti of c.tokenIds) if (jti === e.value) return true;
  return false;
}

function lapsed(e: DenyEntry, now: number): boolean {
  return e.expiresAt !== undefined && e.expiresAt <= now;
}
