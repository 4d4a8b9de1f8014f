/**
 * Config rules for camera sources that the schema cannot express (the config
 * loader reports them with the schema's issues; Camera.open enforces them).
 */
import type { CameraConfig } from './schema.ts';

/** Loopback addresses (IPv4 127/8, IPv6 ::1). */
function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * Config rules for RTP-push sources that the schema cannot express: beyond
 * loopback, a push camera must name its address (`sourceIp`), or anyone who
 * can reach the port could feed the camera; an `srtp` key is referenced by
 * exactly one of `keyFile` / `keyEnv`.
 * @returns issues naming the key, empty when fine
 */
export function pushSourceIssues(camera: CameraConfig, ingestListenIp: string, path = 'camera'): string[] {
  const issues: string[] = [];
  for (const [key, src] of [['source', camera.source], ['subSource', camera.subSource]] as const) {
    if (src?.kind === 'rtp-push' && src.srtp && (src.srtp.keyFile === undefined) === (src.srtp.keyEnv === undefined)) {
      issues.push(`${path}.${key}.srtp: give exactly one of keyFile (a file holding the base64 key) or keyEnv (a variable holding it)`);
    }
  }
  if (isLoopback(ingestListenIp)) return issues;
  for (const [key, src] of [['source', camera.source], ['subSource', camera.subSource]] as const) {
    if (src?.kind === 'rtp-push' && !src.sourceIp) {
      issues.push(`${path}.${key}.sourceIp: is required for rtp-push when ingest.listenIp (${ingestListenIp}) is not a loopback address`);
    }
  }
  return issues;
}

