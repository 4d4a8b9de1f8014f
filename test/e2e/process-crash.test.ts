/**
 * kill -9 of a real Vigil process (node server/src/main.ts): its relay
 * processes (ffmpeg) die with it (PR_SET_PDEATHSIG), so none keeps sending
 * into ports a restarted gateway may give to another camera, and a restart
 * removes the RTSP credential files the killed process could not delete.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pidAlive, spawnVigil, tempDir, writeConfig, type VigilProcess } from '../helpers/vigil-process.ts';
import { testCamera, waitFor } from '../helpers/vigil.ts';

const started: VigilProcess[] = [];

afterAll(async () => {
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
});

/** pids of the ffmpeg children of `ppid` (from /proc/<pid>/stat: field 4 is the parent pid). */
function ffmpegChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (comm === 'ffmpeg' && Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // exited while reading
    }
  }
  return out;
}

describe('kill -9 of the Vigil process', () => {
  it('takes its relays down with it, and a restart removes credential files it left', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { cameras: [testCamera('a', 'VP8'), testCamera('b', 'H264')] });
    const p = await spawnVigil(config);
    started.push(p);
    const pid = p.child.pid!;
    await waitFor(() => ffmpegChildren(pid).length === 2, 15_000);
    const relays = ffmpegChildren(pid);

    // What a killed process leaves behind in the temp dir (owner pid in the name).
    const stale = join(tmpdir(), `vigil-rtsp-${pid}-crashtest`);
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'input.ffconcat'), 'file rtsp://user:planted@127.0.0.9/x\n', { mode: 0o600 });

    p.child.kill('SIGKILL');
    expect(await p.exited).toBe('SIGKILL');
    await waitFor(() => relays.every((r) => !pidAlive(r)), 3000);
    for (const w of p.workerPids) await waitFor(() => !pidAlive(w), 5000);

    const again = await spawnVigil(config);
    started.push(again);
    expect(readdirSync(tmpdir())).not.toContain(`vigil-rtsp-${pid}-crashtest`);
    again.child.kill('SIGTERM');
    await again.exited;
  });
});
