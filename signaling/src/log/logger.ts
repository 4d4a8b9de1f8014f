/**
 * The root pino logger. Every module takes `logger.child({ component, ... })`.
 * Redaction paths cover tokens, secrets and credentials wherever they might be
 * attached to a log object (pino docs, "Redaction").
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/schema.ts';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/** Creates the root logger (JSON lines on stdout). */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}
