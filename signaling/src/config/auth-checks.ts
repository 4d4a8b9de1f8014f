/**
 * Checks across `auth` keys that JSON Schema cannot express: which key source
 * goes with which pinned algorithm, that a JWKS URL is https (or loopback),
 * and that every configured group scope compiles.
 */
import { compileScope } from '../auth/scope.ts';
import { jwksUrlIssue } from '../auth/jwks.ts';
import type { AuthConfig } from './schema.ts';

/**
 * @param auth the validated `auth` section
 * @returns messages naming each bad key (empty when consistent)
 */
export function authIssues(auth: AuthConfig): string[] {
  const issues: string[] = [];
  if (auth.algorithm === 'HS256') {
    if (auth.publicKeyFile) issues.push('auth.publicKeyFile: only valid with RS256 or ES256');
    if (auth.jwks) issues.push('auth.jwks: only valid with RS256 or ES256');
  } else {
    if (auth.secret) issues.push('auth.secret: only valid with HS256');
    if (!auth.publicKeyFile && !auth.jwks) issues.push(`auth.publicKeyFile: is required for ${auth.algorithm} (or auth.jwks)`);
    if (auth.publicKeyFile && auth.jwks) issues.push('auth.jwks: give either auth.publicKeyFile or auth.jwks, not both');
  }
  if (auth.jwks && (auth.jwks.file === undefined) === (auth.jwks.url === undefined)) {
    issues.push('auth.jwks: give exactly one of file or url');
  }
  const urlIssue = auth.jwks?.url === undefined ? undefined : jwksUrlIssue(auth.jwks.url);
  if (urlIssue) issues.push(`auth.jwks.url: ${urlIssue}`);
  for (const [name, entries] of Object.entries(auth.groups)) {
    try {
      compileScope(entries);
    } catch (err) {
      issues.push(`auth.groups.${name}: ${(err as Error).message}`);
    }
  }
  return issues;
}
