/**
 * Versioned schema of the PostgreSQL audit store. Each migration runs once,
 * in order, inside one transaction with its version recorded in
 * `vigil_schema_migrations`; nodes starting at the same time serialise on a
 * transaction-level advisory lock (PostgreSQL docs, "Advisory Locks",
 * `pg_advisory_xact_lock`), so exactly one of them applies a migration.
 *
 * Rules: never edit a released migration; append a new one. Times are ms
 * since epoch in BIGINT (as in the SQLite store), so both stores map rows the same way.
 */
import type { PoolClient } from 'pg';

export interface Migration {
  version: number;
  /** What it does, for the log. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'viewings and nodes',
    sql: `
CREATE TABLE viewings (
  id BIGSERIAL PRIMARY KEY,
  consumer_id TEXT NOT NULL UNIQUE,
  node_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  camera TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  ended_at BIGINT,
  end_reason TEXT,
  end_detail TEXT,
  client_address TEXT,
  user_agent TEXT,
  token_id TEXT
);
CREATE INDEX viewings_subject ON viewings (subject, started_at);
CREATE INDEX viewings_camera ON viewings (camera, started_at);
CREATE INDEX viewings_camera_ended ON viewings (camera, ended_at);
CREATE INDEX viewings_started ON viewings (started_at);
CREATE INDEX viewings_open_by_node ON viewings (node_id) WHERE ended_at IS NULL;
CREATE INDEX viewings_open_by_camera ON viewings (camera) WHERE ended_at IS NULL;
CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL
);`,
  },
];

/** Arbitrary constant key of the advisory lock that serialises migrations (ASCII "vigilmig"). */
const MIGRATION_LOCK = 0x76696769_6c6d6967n;

/**
 * Applies the migrations not applied yet, in version order.
 * @returns the versions applied now (empty when the schema was current)
 * @throws Error from PostgreSQL (the failed migration's transaction is rolled back), or when the
 *   database's schema is newer than this build knows (a downgrade)
 */
export async function migrate(client: PoolClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS vigil_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM vigil_schema_migrations');
    const current = rows[0]?.v ?? 0;
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest) throw new Error(`audit database schema is version ${current}, newer than this Vigil knows (${newest})`);
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO vigil_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
