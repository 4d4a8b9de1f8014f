/**
 * The Kubernetes manifests (deploy/k8s) against Kubernetes' own API types,
 * offline: deploy/k8s/check (Go, k8s.io/api + apimachinery's strict decoder,
 * built and cached by scripts/setup.sh as VIGIL_K8S_CHECK_BIN) refuses
 * unknown fields, wrong types and unknown kinds. On the decoded objects, what
 * a media node needs: host network, the announced addresses from the downward
 * API, probes on /readyz and /healthz, a grace period longer than Vigil's
 * shutdown bound, config from the ConfigMap (valid for Vigil's own loader) and
 * secrets from the Secret. The haproxy example passes `haproxy -c`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/src/config/load.ts';
import { resolveEnvRefs } from '../../server/src/config/env-refs.ts';

const K8S = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const HAPROXY_CFG = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url));
const manifests = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(K8S, f));

function checker(): string {
  const bin = process.env['VIGIL_K8S_CHECK_BIN'];
  if (!bin) throw new Error('VIGIL_K8S_CHECK_BIN is not set: run through npm test (scripts/setup.sh builds deploy/k8s/check)');
  return bin;
}

/** Runs the checker; exit status, stdout, stderr. */
function check(files: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(checker(), files, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Loose views of the decoded objects: the checker already proved them well-typed.
type Obj = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

describe('Kubernetes manifests (strict decoding with k8s.io/api)', () => {
  it('every manifest decodes strictly; a manifest with an unknown field or a wrong type is refused', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(4);
    for (const f of manifests) {
      const r = check([f]);
      expect({ file: f, status: r.status, stderr: r.stderr }).toEqual({ file: f, status: 0, stderr: '' });
    }
    const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-'));
    const good = readFileSync(join(K8S, 'vigil.yaml'), 'utf8');
    expect(good).toContain('      hostNetwork: true\n');
    const unknown = join(dir, 'unknown-field.yaml');
    writeFileSync(unknown, good.replace('      hostNetwork: true\n', '      hostNetwork: true\n      hostNetworking: true\n'));
    const r1 = check([unknown]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/unknown field "spec\.template\.spec\.hostNetworking"/);
    const wrongType = join(dir, 'wrong-type.yaml');
    writeFileSync(wrongType, good.replace('  replicas: 3\n', '  replicas: three\n'));
    const r2 = check([wrongType]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/replicas/);
  });

  it('what a media node needs: host network, per-pod addresses, probes, drain within the grace period, config and secrets', () => {
    const objs = JSON.parse(check(manifests).stdout) as Obj[];
    const find = (kind: string, name: string): Obj => {
      const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
      if (!o) throw new Error(`no ${kind} ${name}`);
      return o;
    };
    const sts = find('StatefulSet', 'vigil');
    const pod = sts.spec.template.spec;
    const [c] = pod.containers;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const env = new Map<string, any>(c.env.map((e: { name: string; valueFrom: unknown }) => [e.name, e.valueFrom]));
    expect(env.get('POD_IP')).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect(env.get('HOST_IP')).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
    expect(env.get('POD_NAME')).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });

    // The ConfigMap's config is valid for Vigil, with the pod's environment filled in.
    const cm = find('ConfigMap', 'vigil-config');
    const volume = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === 'vigil-config');
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === volume.name);
    expect(c.command.join(' ')).toContain(`--config ${mount.mountPath}/config.json`);
    const secret = find('Secret', 'vigil-secrets');
    const podEnv: Record<string, string> = { POD_NAME: 'vigil-0', POD_IP: '10.0.3.7', HOST_IP: '10.0.3.7' };
    for (const [name, from] of env) {
      if (!from.secretKeyRef) continue;
      expect(from.secretKeyRef.name).toBe('vigil-secrets');
      podEnv[name] = secret.stringData![from.secretKeyRef.key]!;
      expect(podEnv[name]).toBeDefined();
    }
    const resolved = resolveEnvRefs(JSON.parse(cm.data!['config.json']!), podEnv);
    expect(resolved.issues).toEqual([]);
    const config = parseConfig(resolved.value, 'vigil-config');
    expect(config.cluster?.announcedAddress).toBe('10.0.3.7');
    expect(config.cluster?.nodeId).toBe('vigil-0');
    // Redis takes a password (whoever reaches it could lift revocations) and Vigil's URL carries the same one.
    const redisPod = find('StatefulSet', 'vigil-redis').spec!.template.spec!;
    const redisArgs = redisPod.containers[0]!.args!.join(' ');
    expect(redisArgs).toContain('--requirepass $(REDIS_PASSWORD)');
    expect(redisArgs).not.toContain('protected-mode');
    const redisPassword = secret.stringData!['redis-password']!;
    expect(new URL(config.cluster!.redisUrl).password).toBe(redisPassword);

    // Drain fits: Kubernetes waits longer than Vigil's own shutdown bound before SIGKILL.
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.shutdown.timeoutMs);
    expect(config.shutdown.timeoutMs).toBeGreaterThan(config.shutdown.drainDelayMs + config.shutdown.socketGraceMs);
    // Every worker's ICE port is declared, UDP and TCP; HTTP on the configured port.
    // A fixed worker count: with 'auto' the ports would depend on the machine's cores.
    const workers = config.workers.count;
    if (typeof workers !== 'number') throw new Error('vigil-config.yaml must fix workers.count (ports are declared per worker)');
    for (let i = 0; i < workers; i++) {
      for (const protocol of ['UDP', 'TCP'] as const) {
        expect(c.ports).toContainEqual(expect.objectContaining({ containerPort: config.webrtc.port + i, protocol }));
      }
    }
    expect(c.ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: config.http.port }));

    // Redis: the URL the nodes use is the Service, and it keeps an append-only file on a volume.
    const url = new URL(config.cluster!.redisUrl);
    const redisSvc = find('Service', url.hostname);
    expect(redisSvc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(url.port));
    const redis = find('StatefulSet', url.hostname).spec;
    expect(redis.template.spec.containers[0].args.join(' ')).toContain('--appendonly yes');
    expect(redis.volumeClaimTemplates).toHaveLength(1);
  });

  it('the haproxy example for the WebSocket port is a valid haproxy config', () => {
    const out = execFileSync('haproxy', ['-c', '-f', HAPROXY_CFG], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/Configuration file is valid/);
    const cfg = readFileSync(HAPROXY_CFG, 'utf8');
    expect(cfg).toMatch(/^\s*option forwardfor/m);
    expect(cfg).toMatch(/^\s*timeout tunnel/m);
    expect(cfg).toMatch(/httpchk GET \/readyz/);
  });
});
