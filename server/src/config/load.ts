/**
 * Loads and validates the config: JSON file (or the embedded defaults),
 * validated against {@link VigilConfigSchema} with defaults filled in.
 */
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { CameraConfigSchema, pushSourceIssues, type CameraConfig } from '@vigil/gateway';
import { VigilConfigSchema, type VigilConfig } from './schema.ts';
import { DEFAULT_CONFIG_FILE } from './defaults.ts';
import { authIssues } from './auth-checks.ts';
import { clusterIssues } from './cluster-checks.ts';
import { trustedProxyIssues } from '../http/client-address.ts';
import { resolveEnvRefs } from './env-refs.ts';

/** The config is not valid JSON or does not match the schema. `issues` name each bad key. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(source: string, issues: string[]) {
    super(`invalid config (${source}):\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

// verbose: errors carry their parentSchema, whose `description` words a pattern failure for people.
const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: false, verbose: true });
const validate = ajv.compile<VigilConfig>(VigilConfigSchema);
const validateCamera = ajv.compile<CameraConfig>(CameraConfigSchema);

/** `/cameras/0/source/port` -> `cameras[0].source.port` */
function keyPath(path: string): string {
  return path
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '') || '(root)';
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'discriminator') {
    return `${keyPath(e.instancePath)}.${(e.params as { tag: string }).tag}: is not one of the known kinds`;
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `${keyPath(`${e.instancePath}/${extra}`)}: unknown key`;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `${keyPath(`${e.instancePath}/${missing}`)}: is required`;
  }
  const description = (e.parentSchema as { description?: unknown } | undefined)?.description;
  if (e.keyword === 'pattern' && typeof description === 'string') return `${keyPath(e.instancePath)}: must be ${description}`;
  return `${keyPath(e.instancePath)}: ${e.message ?? 'is invalid'}`;
}

/**
 * One line per bad key. A union of literals (e.g. `codec`) makes ajv report a
 * `const` error per branch plus an `anyOf`: those become one line listing the
 * allowed values.
 */
function describeAll(errors: ErrorObject[]): string[] {
  const allowed = new Map<string, unknown[]>();
  for (const e of errors) {
    if (e.keyword === 'const') {
      const list = allowed.get(e.instancePath) ?? [];
      list.push((e.params as { allowedValue: unknown }).allowedValue);
      allowed.set(e.instancePath, list);
    }
  }
  const lines: string[] = [];
  for (const e of errors) {
    const values = allowed.get(e.instancePath);
    if (values && (e.keyword === 'anyOf' || e.keyword === 'const' || e.keyword === 'type')) {
      if (e.keyword === 'anyOf') lines.push(`${keyPath(e.instancePath)}: must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
      continue;
    }
    lines.push(describe(e));
  }
  return [...new Set(lines)];
}

/**
 * Validates one `cameras[]` entry (admin API bodies) with the config file's
 * rules and messages; defaults are filled into a copy.
 * @returns the camera, or the issues naming each bad key (relative to the entry)
 */
export function checkCameraConfig(raw: unknown): { camera: CameraConfig } | { issues: string[] } {
  const cloned = structuredClone(raw);
  if (validateCamera(cloned)) return { camera: cloned };
  return { issues: describeAll(validateCamera.errors ?? []) };
}

/**
 * Validates a parsed config object (mutated: defaults are filled in).
 *
 * @param raw parsed JSON
 * @param source file name for messages
 * @returns the typed config
 * @throws ConfigError naming every bad key (for a camera `source`, the
 *   errors of the branch its `kind` selects)
 */
export function parseConfig(raw: unknown, source = 'config'): VigilConfig {
  const cloned = structuredClone(raw);
  if (validate(cloned)) {
    checkSemantics(cloned, source);
    return cloned;
  }
  throw new ConfigError(source, describeAll(validate.errors ?? []));
}

function checkSemantics(config: VigilConfig, source: string): void {
  const issues: string[] = [];
  const seen = new Set<string>();
  config.cameras.forEach((c, i) => {
    if (seen.has(c.id)) issues.push(`cameras[${i}].id: duplicate camera id "${c.id}"`);
    seen.add(c.id);
    issues.push(...pushSourceIssues(c, config.ingest.listenIp, `cameras[${i}]`));
  });
  if (config.workers.rtcMinPort > config.workers.rtcMaxPort) issues.push('workers.rtcMinPort: must be <= workers.rtcMaxPort');
  issues.push(...authIssues(config.auth));
  const pgAudit = config.audit.postgres;
  if (pgAudit && pgAudit.nodeTimeoutSec < 2 * config.audit.heartbeatSec) {
    issues.push('audit.postgres.nodeTimeoutSec: must be at least 2 × audit.heartbeatSec (live nodes would be taken for dead)');
  }
  issues.push(...clusterIssues(config.cluster));
  issues.push(...trustedProxyIssues(config.http.trustedProxies));
  if (config.demo.enabled && config.demo.tokenTtlSec > config.auth.maxTokenLifetimeSec) {
    issues.push('demo.tokenTtlSec: must be <= auth.maxTokenLifetimeSec');
  }
  if (issues.length) throw new ConfigError(source, issues);
}

/**
 * Reads a JSON config file, or the embedded defaults when `path` is undefined.
 * `{ "$env": "NAME" }` values are taken from the environment (./env-refs.ts).
 * @throws ConfigError for unreadable files, bad JSON, unset variables and schema violations
 */
export async function loadConfig(path?: string): Promise<VigilConfig> {
  if (path === undefined) return parseConfig(DEFAULT_CONFIG_FILE, 'embedded defaults');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`]);
  }
  const resolved = resolveEnvRefs(raw);
  if (resolved.issues.length) throw new ConfigError(path, resolved.issues);
  return parseConfig(resolved.value, path);
}
