/**
 * Checks on the `cluster` section that JSON Schema cannot express: the
 * announced address is an IP literal (other nodes dial it; a name would
 * resolve differently per node), the heartbeat fits inside the node timeout,
 * the pipe port range is not empty, and the Redis URL parses.
 */
import { isIP } from 'node:net';
import type { ClusterConfig } from './schema.ts';

/**
 * @param cluster the validated `cluster` section, or undefined (single node)
 * @returns messages naming each bad key (empty when consistent)
 */
export function clusterIssues(cluster: ClusterConfig | undefined): string[] {
  if (!cluster) return [];
  const issues: string[] = [];
  if (!URL.canParse(cluster.redisUrl)) issues.push('cluster.redisUrl: not a valid URL');
  if (isIP(cluster.announcedAddress) === 0) issues.push('cluster.announcedAddress: must be an IPv4 or IPv6 address');
  if (cluster.heartbeatMs * 2 > cluster.nodeTimeoutMs) issues.push('cluster.nodeTimeoutMs: must be at least twice cluster.heartbeatMs');
  if (cluster.pipe.portMax < cluster.pipe.portMin) issues.push('cluster.pipe.portMax: must be at least cluster.pipe.portMin');
  return issues;
}
