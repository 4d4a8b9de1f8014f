/**
 * The root pino logger. Every module takes `logger.child({ component, ... })`.
 * Redaction paths cover tokens, secrets and credentials wherever they might be
 * attached to a log object (pino docs, "Redaction"); every line is also
 * scrubbed of URL credentials, JWTs and bearer credentials by pattern.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/schema.ts';
import { scrubString } from './scrub.ts';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  '*.*.password',
  'source.password',
  '*.source.password',
  'cameras[*].source.password',
  'cameras[*].subSource.password',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'credentials',
  '*.credentials',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/**
 * A destination that scrubs each serialized log line (URL credentials, JWTs,
 * bearer credentials; see scrub.ts) before writing it, so a secret is caught
 * in whatever field it lands, messages and framework objects included.
 */
export function scrubbingDestination(inner: pino.DestinationStream): pino.DestinationStream {
  return { write: (line: string) => inner.write(scrubString(line)) };
}

/**
 * Creates the root logger (JSON lines, stdout by default): key-based
 * redaction ({@link REDACT_PATHS}) plus pattern scrubbing of every line.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  return pino(options, scrubbingDestination(destination ?? pino.destination({ dest: 1, sync: true })));
}
