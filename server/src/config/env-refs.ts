/**
 * Values taken from the environment: anywhere in the config file, the object
 * `{ "$env": "NAME" }` stands for the value of environment variable NAME (a
 * string). This is how a container platform hands over what must not sit in a
 * shared file or differs per instance: secrets (Kubernetes `secretKeyRef`),
 * and the pod's own address and name (the downward API, `status.podIP`,
 * `metadata.name`), while one config file (a ConfigMap) serves every node.
 * Resolved once, at load, before validation; an unset variable is a config error.
 */

/** NAME: what POSIX calls a portable environment variable name. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function isRef(v: unknown): v is { $env: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && '$env' in v;
}

/**
 * Replaces every `{ "$env": NAME }` in `raw` (a parsed JSON document, not changed) by `env[NAME]`.
 * @param env the environment (default process.env)
 * @returns the resolved copy and one message per reference that could not be resolved
 *   (key path and variable name; never the value)
 */
export function resolveEnvRefs(raw: unknown, env: NodeJS.ProcessEnv = process.env): { value: unknown; issues: string[] } {
  const issues: string[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (isRef(v)) {
      const name = v.$env;
      if (typeof name !== 'string' || !NAME.test(name)) {
        issues.push(`${path || '(root)'}: "$env" must name an environment variable`);
        return undefined;
      }
      const value = env[name];
      if (value === undefined || value === '') issues.push(`${path || '(root)'}: environment variable ${name} is not set`);
      return value;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, path ? `${path}.${k}` : k)]));
    }
    return v;
  };
  const value = walk(raw, '');
  return { value, issues };
}
