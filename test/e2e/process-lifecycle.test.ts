/**
 * What README promises about the process itself, each against a real Vigil:
 * - a bad config file: exit code 2, the bad key named on stderr, nothing started;
 * - SIGHUP re-reads the config file and reconciles the cameras;
 * - a shutdown that outlasts `shutdown.timeoutMs` exits 1;
 * - `/readyz` answers 503 when no mediasoup worker is alive, and while the
 *   audit store cannot write (another process holds the SQLite file locked),
 *   and 200 again once it can.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@vigil/protocol';
import { signViewerToken } from '@vigil/server';
import { spawnVigil, tempDir, writeConfig, type VigilProcess } from '../helpers/vigil-process.ts';
import { TEST_SECRET, startTestVigil, testCamera, testConfig, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { WsClient } from '../helpers/ws-client.ts';

const MAIN = fileURLToPath(new URL('../../server/src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const procs: VigilProcess[] = [];
const vigils: TestVigil[] = [];
const clients: WsClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const v of vigils.splice(0)) await v.close();
});

/** Runs `main.ts --config <path>` to its exit (bounded by `timeoutMs`). */
function runToExit(configPath: string, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, '--config', configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the process', () => {
  it('exits with code 2 on a bad config file, naming the key and what is allowed', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, { cameras: [testCamera('gate-1', 'H265' as 'H264')] });
    const r = await runToExit(path);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cameras\[0\]\.codec: must be one of "H264", "VP8"/);
    expect(r.stdout).not.toMatch(/vigil started/);

    writeFileSync(path, '{ "http": { "port": 8080, }');
    const notJson = await runToExit(path);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr.length).toBeGreaterThan(0);
  });

  it('re-reads the config file on SIGHUP and reconciles the cameras', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, { cameras: [testCamera('hup/a', 'VP8')] });
    const p = await spawnVigil(path);
    procs.push(p);
    const ids = async () => ((await (await p.admin('/cameras')).json()) as { cameras: { id: string }[] }).cameras.map((c) => c.id).sort();
    expect(await ids()).toEqual(['hup/a']);

    writeFileSync(path, JSON.stringify(testConfig({ log: { level: 'info' }, cameras: [testCamera('hup/b', 'VP8')] })));
    p.child.kill('SIGHUP');
    await waitFor(async () => JSON.stringify(await ids()) === JSON.stringify(['hup/b']), 10_000);
    expect(p.child.exitCode).toBeNull();
  }, 40_000);

  it('exits 1 when the shutdown takes longer than shutdown.timeoutMs', async () => {
    const dir = tempDir();
    // A joined viewer keeps the drain going for 4 s; the budget is 1 s.
    const path = writeConfig(dir, { cameras: [testCamera('slow', 'VP8')], shutdown: { drainDelayMs: 4000, timeoutMs: 1000 } });
    const p = await spawnVigil(path);
    procs.push(p);
    const token = signViewerToken(TEST_SECRET, { subject: 'dave', cameras: ['slow'], ttlSec: 120 }, { issuer: 'vigil', audience: 'vigil-viewer' });
    const ws = await WsClient.open(p.url);
    clients.push(ws);
    expect((await ws.request({ type: 'join', protocolVersion: PROTOCOL_VERSION, token })).ok).toBe(true);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(1);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(4000);
  }, 40_000);
});

describe('/readyz', () => {
  it('answers 503 when no mediasoup worker is alive', async () => {
    const v = await startTestVigil({ cameras: [] });
    vigils.push(v);
    const ready = async () => v.app.inject({ method: 'GET', url: '/readyz' });
    expect((await ready()).statusCode).toBe(200);
    for (const slot of v.gateway.workers.slots) slot.worker.close();
    const r = await ready();
    expect(r.statusCode).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'not_ready', checks: { workers: false, accepting: true } });
  });

  it('answers 503 while the audit store cannot write, and 200 once it can again', async () => {
    const dir = tempDir();
    const auditPath = join(dir, 'audit.sqlite');
    const v = await startTestVigil({ cameras: [], audit: { path: auditPath, heartbeatSec: 1 } });
    vigils.push(v);
    const ready = async () => v.app.inject({ method: 'GET', url: '/readyz' });
    expect((await ready()).statusCode).toBe(200);

    // Another process's exclusive transaction: Vigil's heartbeat write waits its busy timeout, then fails.
    const locker = new DatabaseSync(auditPath);
    locker.exec('BEGIN EXCLUSIVE');
    try {
      await waitFor(async () => (await ready()).statusCode === 503, 10_000, 200);
      expect(JSON.parse((await ready()).body)).toMatchObject({ status: 'not_ready', checks: { audit: false, workers: true } });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    await waitFor(async () => (await ready()).statusCode === 200, 10_000, 200);
  }, 30_000);
});
