/**
 * An RTP-push camera's SRTP master key, read from where the config points
 * (never from the config itself, so the key is not in the config file, the
 * admin API, or any log line that prints a camera's config): a file
 * (`keyFile`) or an environment variable (`keyEnv`), holding the base64 of
 * master key || master salt (30 bytes for the AES_CM_128 suites, RFC 4568
 * §6.1; what ffmpeg's `-srtp_out_params` takes).
 */
import { readFile } from 'node:fs/promises';
import type { RtpPushSource } from '../config/schema.ts';
import { SRTP_MASTER_KEY_LENGTH, SRTP_MASTER_SALT_LENGTH } from './srtp.ts';

/** The key could not be had; the message names the reference and why, never key material. */
export class SrtpKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SrtpKeyError';
  }
}

/** Largest key file read, bytes (a base64 key is 40 characters). */
const MAX_KEY_FILE_BYTES = 1024;

/**
 * Reads and decodes the master key and salt of `srtp`.
 * @param srtp the source's `srtp` config (exactly one of keyFile / keyEnv; checked by pushSourceIssues)
 * @param path the config path for messages, e.g. `camera.source.srtp`
 * @returns master key || master salt, 30 bytes
 * @throws SrtpKeyError when the file or variable is missing, unreadable, or not 30 bytes of base64
 */
export async function loadSrtpMasterKey(srtp: NonNullable<RtpPushSource['srtp']>, path: string): Promise<Buffer> {
  let text: string;
  let where: string;
  if (srtp.keyFile !== undefined) {
    where = `${path}.keyFile (${srtp.keyFile})`;
    try {
      const data = await readFile(srtp.keyFile);
      if (data.length > MAX_KEY_FILE_BYTES) throw new SrtpKeyError(`${where}: larger than ${MAX_KEY_FILE_BYTES} bytes, not a key`);
      text = data.toString('utf8');
    } catch (err) {
      if (err instanceof SrtpKeyError) throw err;
      throw new SrtpKeyError(`${where}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else if (srtp.keyEnv !== undefined) {
    where = `${path}.keyEnv (${srtp.keyEnv})`;
    const value = process.env[srtp.keyEnv];
    if (value === undefined) throw new SrtpKeyError(`${where}: the variable is not set`);
    text = value;
  } else {
    throw new SrtpKeyError(`${path}: give keyFile or keyEnv`);
  }
  const b64 = text.trim();
  const key = Buffer.from(b64, 'base64');
  const want = SRTP_MASTER_KEY_LENGTH + SRTP_MASTER_SALT_LENGTH;
  // Buffer.from skips characters outside the alphabet: only plain base64 is a key.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== want) {
    throw new SrtpKeyError(`${where}: not the base64 of a ${want}-byte master key and salt`);
  }
  return key;
}
