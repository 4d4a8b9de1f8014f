/**
 * `npm start`: runs Vigil with the config file given by `--config <file>` or
 * VIGIL_CONFIG (embedded defaults otherwise). With the demo enabled and a
 * secret Vigil generated itself (no `auth.secret` or keys configured), prints
 * the demo page URL with a short-lived viewer token to stderr (the token goes
 * in the URL fragment, which browsers never send to the server, and never
 * into the structured logs on stdout). With an operator's secret or keys it
 * prints none: a token valid for every camera would end up in container logs
 * and journals, signed with a key that outlives the process.
 */
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from './config/load.ts';
import { createLogger } from './log/logger.ts';
import { signViewerToken } from './auth/tokens.ts';
import { startVigil } from './vigil.ts';

const { values } = parseArgs({ options: { config: { type: 'string' } } });
const configPath = values.config ?? process.env['VIGIL_CONFIG'];

let config;
try {
  config = await loadConfig(configPath);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const logger = createLogger(config.log.level);
if (config.cameras.length === 0) logger.warn('no cameras configured: add them to the config file or through the admin API');
let vigil;
try {
  vigil = await startVigil(config, logger, { configPath });
} catch (err) {
  // The usual start failure is a port already in use (another Vigil running?): one clear line, no stack.
  const e = err as NodeJS.ErrnoException;
  const inUse = e.code === 'EADDRINUSE' || /address already in use/i.test(e.message);
  process.stderr.write(
    inUse
      ? `cannot start: a port is already in use (${e.message.replace(/\s+at .*/s, '')}); is another Vigil running? Change http.port / webrtc.port in the config.\n`
      : `cannot start: ${e.message}\n`,
  );
  process.exit(inUse ? 2 : 1);
}
logger.info({ url: vigil.url, cameras: vigil.gateway.cameras().map((c) => c.id) }, 'vigil started');

if (config.demo.enabled && !vigil.hs256SecretGenerated) {
  logger.info('demo token not printed: auth.secret or keys are configured (a demo token is printed only with a generated secret)');
}
if (config.demo.enabled && vigil.hs256SecretGenerated && vigil.hs256Secret && vigil.gateway.cameras().length > 0) {
  const cameras = vigil.gateway.cameras().map((c) => c.id);
  const token = signViewerToken(
    vigil.hs256Secret,
    { subject: 'demo-viewer', cameras, ttlSec: config.demo.tokenTtlSec },
    { issuer: config.auth.issuer, audience: config.auth.audience },
  );
  const first = cameras[0] ?? '';
  process.stderr.write(
    `\nVigil is running.\n` +
      `  Demo page (token valid ${Math.round(config.demo.tokenTtlSec / 60)} min):\n` +
      `  ${vigil.url}/#camera=${encodeURIComponent(first)}&token=${token}\n` +
      `  Wall: ${vigil.url}/wall.html#cameras=${cameras.map(encodeURIComponent).join(',')}&tiles=16&token=${token}\n\n` +
      `  Viewer token: ${token}\n\n`,
  );
}

// SIGHUP: reload the camera set from the config file (unchanged cameras keep their viewers).
process.on('SIGHUP', () => {
  vigil.reloadCameras().then(
    (result) => logger.info({ result }, 'config reloaded'),
    (err: unknown) => logger.error({ err: (err as Error).message }, 'config reload failed'),
  );
});

// Graceful shutdown (vigil.close()), bounded by shutdown.timeoutMs: past it the process exits with code 1.
// This root owns the process's signals: the worker pool removes the handler
// mediasoup installs per worker (it would close workers before the drain),
// and vigil.close() closes the workers last.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.info({ signal, timeoutMs: config.shutdown.timeoutMs }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdown.timeoutMs);
    force.unref();
    vigil.close().then(
      () => {
        logger.info({ durationMs: Date.now() - started }, 'shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
