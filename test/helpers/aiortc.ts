/**
 * The aiortc clients (Python, test/clients/aiortc): a WebRTC stack nobody
 * here wrote, decoding real frames. The venv is built and cached by the
 * set-up (test/clients/setup.sh, `VIGIL_AIORTC_PYTHON`).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLIENTS = fileURLToPath(new URL('../clients/aiortc/', import.meta.url));

/** The venv's python (set by scripts/setup.sh, which `npm test` runs first). */
export function aiortcPython(): string {
  const py = process.env['VIGIL_AIORTC_PYTHON'];
  if (!py) throw new Error('VIGIL_AIORTC_PYTHON is not set: run the tests through `npm test` (scripts/setup.sh builds the aiortc venv)');
  return py;
}

/** What a client printed (its last JSON line), plus its exit code. */
export interface AiortcResult {
  exitCode: number | null;
  status?: number | null;
  location?: string | null;
  etag?: string | null;
  frames: number;
  width: number | null;
  height: number | null;
  codec: string | null;
  error: string | null;
  [key: string]: unknown;
}

/**
 * Runs one client script to its end (bounded by `timeoutMs`, then killed).
 * @param script file name in test/clients/aiortc
 * @throws when it prints no JSON result
 */
export async function runAiortc(script: string, args: string[], timeoutMs = 40_000): Promise<AiortcResult> {
  const child = spawn(aiortcPython(), [CLIENTS + script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const last = out.trim().split('\n').at(-1) ?? '';
  try {
    return { ...(JSON.parse(last) as AiortcResult), exitCode };
  } catch {
    throw new Error(`${script} printed no result (exit ${exitCode}): ${(err || out).slice(-2000)}`);
  }
}
