/**
 * Janus (Debian package `janus`, 1.1) for the side-by-side load test: a
 * generated configuration in a temporary directory with only the HTTP
 * transport (on 127.0.0.1) and the streaming plugin, one RTP mountpoint
 * (https://janus.conf.meetecho.com/docs/streaming.html) receiving the same
 * H.264 stream as Vigil's camera. libnice gathers no loopback candidates, so
 * Janus runs in its own network namespace (./netns.ts) with ICE on that
 * namespace's one interface; the bots and the feed that talk to it run there too.
 * Started and torn down (namespace included) by the caller's {@link ProcessSet}.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FEED_PAYLOAD_TYPE, FEED_PROFILE_LEVEL_ID } from './feed.ts';
import { createNetns, createViewerLink, type Netns, type ViewerLink } from './netns.ts';
import { freeTcpPort, freeUdpPair, waitForOutput, type ProcessSet } from './processes.ts';

/** Where Debian installs Janus's modules (multiarch). */
const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';

export interface JanusServer {
  /** HTTP API base for the bots (inside {@link netns}), http://127.0.0.1:<port>/janus. */
  apiUrl: string;
  /** The streaming mountpoint id. */
  mountpoint: number;
  /** UDP port the mountpoint receives RTP on. */
  rtpPort: number;
  pid: number;
  /** The namespace Janus runs in; run the feed in it, and the bots unless {@link viewerLink}. */
  netns: Netns;
  /** With `viewersApart`: the bots' own namespace and its link to Janus's. */
  viewerLink?: ViewerLink;
}

/** Every module in `folder` except `keep`, as Janus's `disable` list. */
function disableAllBut(folder: string, keep: string): string {
  return readdirSync(join(JANUS_LIB, folder)).filter((f) => f.endsWith('.so') && f !== keep).join(',');
}

/**
 * Writes the config and starts `janus`, resolved once its HTTP API answers.
 * @param core pin Janus (all threads) to this core
 * @param viewersApart put the viewers in a namespace of their own, linked to
 *   Janus's by a veth pair whose receive side runs on core `viewersApart.rpsCore`
 *   (see {@link createViewerLink}); Janus's ICE and HTTP API then use that link
 * @throws Error when Janus exits or its API does not answer within 20 s
 */
export async function startJanus(procs: ProcessSet, core?: number, viewersApart?: { rpsCore: number }): Promise<JanusServer> {
  const netns = createNetns();
  procs.onStop(netns.destroy);
  const viewerLink = viewersApart ? createViewerLink({ serverNetns: netns, rpsCore: viewersApart.rpsCore }) : undefined;
  if (viewerLink) procs.onStop(viewerLink.netns.destroy);
  const apiIp = viewerLink?.serverAddress ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'vigil-janus-'));
  procs.onStop(() => rmSync(dir, { recursive: true, force: true }));
  const httpPort = await freeTcpPort();
  const rtpPort = await freeUdpPair();
  const mountpoint = 1;
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
	configs_folder = "${dir}"
	plugins_folder = "${JANUS_LIB}/plugins"
	transports_folder = "${JANUS_LIB}/transports"
	events_folder = "${JANUS_LIB}/events"
	loggers_folder = "${JANUS_LIB}/loggers"
	debug_level = 4
	session_timeout = 60
}
media: {
	rtp_port_range = "30000-39999"
}
nat: {
	ice_enforce_list = "${viewerLink?.serverDevice ?? 'v0'}"
	ignore_mdns = true
}
plugins: {
	disable = "${disableAllBut('plugins', 'libjanus_streaming.so')}"
}
transports: {
	disable = "${disableAllBut('transports', 'libjanus_http.so')}"
}
events: {
	broadcast = false
	disable = "${disableAllBut('events', '')}"
}
loggers: {
	disable = "${disableAllBut('loggers', '')}"
}
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: {
	json = "compact"
	base_path = "/janus"
	http = true
	port = ${httpPort}
	ip = "${apiIp}"
	https = false
}
admin: {
	admin_http = false
}
`,
  );
  writeFileSync(
    join(dir, 'janus.plugin.streaming.jcfg'),
    `general: {
}
vigil-loadtest: {
	type = "rtp"
	id = ${mountpoint}
	description = "Vigil load test feed"
	media = (
		{
			type = "video"
			mid = "v"
			label = "video"
			port = ${rtpPort}
			pt = ${FEED_PAYLOAD_TYPE}
			codec = "h264"
			fmtp = "profile-level-id=${FEED_PROFILE_LEVEL_ID};packetization-mode=1"
		}
	)
}
`,
  );
  const child = procs.spawn('janus', ['--configs-folder', dir, '--disable-colors', '--log-stdout'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    netns,
    ...(core === undefined ? {} : { core }),
  });
  await waitForOutput(child, /HTTP webserver started/, 20_000);
  child.stdout?.resume();
  child.stderr?.resume();
  return { apiUrl: `http://${apiIp}:${httpPort}/janus`, mountpoint, rtpPort, pid: child.pid!, netns, ...(viewerLink ? { viewerLink } : {}) };
}
