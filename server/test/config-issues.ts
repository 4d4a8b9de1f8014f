/** Test helper: the issues a raw config produces ([] when it is valid). */
import { ConfigError, parseConfig } from '../src/config/load.ts';

export function configIssues(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}
