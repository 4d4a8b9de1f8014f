/** The monitoring files shipped under deploy/ and the PromQL they contain. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const ALERTS = `${DEPLOY}prometheus/vigil-alerts.yml`;
export const ALERT_TESTS = `${DEPLOY}prometheus/vigil-alerts.test.yml`;
export const PROMETHEUS_CONFIG = `${DEPLOY}prometheus/prometheus.yml`;
export const DASHBOARD = `${DEPLOY}grafana/vigil-dashboard.json`;

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
}

/** The dashboard's panels (rows included). */
export function dashboardPanels(): Panel[] {
  return (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels;
}

/** Every PromQL expression of the dashboard, with Grafana variables replaced by plain PromQL. */
export function dashboardExprs(): string[] {
  return dashboardPanels()
    .flatMap((p) => p.targets ?? [])
    .map((t) => t.expr.replaceAll('$__rate_interval', '5m').replace(/\$\{?(instance|camera)\}?/g, '.*'));
}

/** Every `vigil_*` metric name used in the dashboard and the alert rules, histogram suffixes removed. */
export function referencedVigilMetrics(): string[] {
  const text = dashboardExprs().join('\n') + readFileSync(ALERTS, 'utf8');
  const names = [...text.matchAll(/\bvigil_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
  return [...new Set(names)].sort();
}
