/**
 * The shipped monitoring files against the real Prometheus tool (Debian's
 * promtool): alert rules load and behave as their unit tests say, the
 * example scrape config is valid, and every dashboard query is valid PromQL.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promtool } from '../helpers/prometheus.ts';
import { ALERT_TESTS, ALERTS, PROMETHEUS_CONFIG, dashboardExprs, dashboardPanels } from '../helpers/deploy-files.ts';
import { tempDir } from '../helpers/vigil-process.ts';

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', async () => {
    const { code, out } = await promtool(['check', 'rules', ALERTS]);
    expect(out).toContain('SUCCESS: 9 rules found');
    expect(code).toBe(0);
  });

  it('fire as their unit tests expect (camera offline, coverage low, worker CPU high, audit errors, audit store down, no oversight leader)', async () => {
    const { code, out } = await promtool(['test', 'rules', ALERT_TESTS]);
    expect(out).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('the example prometheus.yml is a valid config that loads them', async () => {
    const { code, out } = await promtool(['check', 'config', PROMETHEUS_CONFIG]);
    expect(out).toContain('1 rule files found');
    expect(code).toBe(0);
  });
});

describe('Grafana dashboard', () => {
  it('has unique panel ids and a query on every panel', () => {
    const panels = dashboardPanels();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels.filter((p) => p.type !== 'row')) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it('every query is valid PromQL (promtool parses them as recording rules)', async () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    const rules = ['groups:', '  - name: dashboard', '    rules:'];
    exprs.forEach((expr, i) => rules.push(`      - record: dashboard:q${i}`, `        expr: ${JSON.stringify(expr)}`));
    const file = join(tempDir('vigil-dash-'), 'dashboard-rules.yml');
    writeFileSync(file, rules.join('\n') + '\n');
    const { code, out } = await promtool(['check', 'rules', file]);
    expect(out).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(code).toBe(0);
  });
});
