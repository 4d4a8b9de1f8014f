/**
 * Embedding with the `<vigil-feed>` custom element, in headless Chromium
 * against a real Vigil:
 * - README's 5-line embed example, taken from README.md as written, in a plain
 *   HTML page of ANOTHER origin (an app at https://ops.example embedding Vigil
 *   at https://vigil.example): the token comes from the app's own backend
 *   through the callback, never from the HTML;
 * - the element's attributes, properties and DOM events (what React and Vue use).
 *
 * Firefox ESR runs the README example too, on a real second origin: a small
 * HTTP server of the test on another port of 127.0.0.1 serves the page and its
 * /vigil-token (Playwright's request routing has no Firefox equivalent over
 * WebDriver BiDi); it plays the VP8 camera (offline Firefox has no H.264).
 *
 * The two made-up origins are served by the test: page.route answers
 * https://ops.example (the page and its /vigil-token endpoint) and relays
 * https://vigil.example/sdk/* to the real server; page.routeWebSocket relays
 * the signaling WebSocket to the real server, sending the Origin a browser
 * on https://ops.example sends. Media (ICE, DTLS, RTP) goes straight to Vigil.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { launchFirefox } from '../helpers/engines.ts';
import { startTestVigil, testCamera, waitFor, type TestVigil } from '../helpers/vigil.ts';
import { trackConsumers, type ConsumerTracker } from '../helpers/consumers.ts';

const APP = 'https://ops.example';
const VIGIL = 'https://vigil.example';

let vigil: TestVigil;
let browser: Browser;
let consumers: ConsumerTracker;
/** A real second origin (http://127.0.0.1:<other port>) for the Firefox case: serves `app.html` and `app.token`. */
const app = { html: '', token: '', origin: '', server: undefined as Server | undefined };

beforeAll(async () => {
  app.server = createServer((req, res) => {
    if (req.url === '/vigil-token') res.writeHead(200, { 'content-type': 'text/plain' }).end(app.token);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>\n<html><head><meta charset="utf-8"><title>app</title></head><body>\n${app.html}</body></html>`);
  });
  await new Promise<void>((r) => app.server!.listen(0, '127.0.0.1', r));
  app.origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  vigil = await startTestVigil({
    http: { host: '127.0.0.1', port: 0, allowedOrigins: [APP, app.origin] },
    cameras: [testCamera('gate-3', 'H264'), testCamera('gate-4', 'VP8'), testCamera('vault', 'VP8')],
  });
  consumers = trackConsumers(vigil.gateway);
  await waitFor(() => vigil.media.cameras().every((c) => c.state === 'live'), 15_000);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await vigil?.close();
  app.server?.close();
});

/** The html code block under README's "Embed in 5 lines" heading, verbatim. */
function readmeEmbedExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const m = /### Embed in 5 lines\n[\s\S]*?```html\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README has no "### Embed in 5 lines" html block');
  return m[1]!;
}

/**
 * A page at https://ops.example whose body is `html`; its backend hands out
 * `token` at /vigil-token. Vigil's files and WebSocket are relayed to the test server.
 */
async function appPage(html: string, token: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.route(`${APP}/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/vigil-token') return route.fulfill({ contentType: 'text/plain', body: token });
    return route.fulfill({ contentType: 'text/html', body: `<!doctype html>\n<html><head><meta charset="utf-8"><title>app</title></head><body>\n${html}</body></html>` });
  });
  await page.route(`${VIGIL}/sdk/**`, async (route) => {
    const url = new URL(route.request().url());
    const res = await route.fetch({ url: `${vigil.url}${url.pathname}` });
    return route.fulfill({ response: res });
  });
  await page.routeWebSocket(`${VIGIL.replace('https', 'wss')}/ws`, (client) => {
    const server = new WebSocket(`${vigil.url.replace('http', 'ws')}/ws`, { origin: APP });
    const early: string[] = [];
    server.on('open', () => early.splice(0).forEach((m) => server.send(m)));
    server.on('message', (data) => client.send(data.toString()));
    server.on('close', (code) => client.close({ code: code === 1005 ? 1000 : code }));
    client.onMessage((m) => (server.readyState === WebSocket.OPEN ? server.send(String(m)) : early.push(String(m))));
    client.onClose(() => server.close());
    page.on('close', () => server.close());
  });
  await page.goto(`${APP}/`);
  return page;
}

interface ElementProbe {
  state: string;
  quality: string | undefined;
  videoWidth: number;
  framesDecoded: number;
  status: string;
}

function element(page: Page, selector = 'vigil-feed'): Promise<ElementProbe> {
  return page.evaluate(async (selector) => {
    const el = document.querySelector(selector) as HTMLElement & { state: string; feed?: { quality: string }; video: HTMLVideoElement; getStats(): Promise<{ framesDecoded: number } | undefined> };
    const stats = await el.getStats();
    return {
      state: el.state,
      quality: el.feed?.quality,
      videoWidth: el.video.videoWidth,
      framesDecoded: stats?.framesDecoded ?? 0,
      status: el.shadowRoot!.querySelector('[part=status]')!.textContent ?? '',
    };
  }, selector);
}

describe('<vigil-feed> custom element', () => {
  it("README's 5-line example plays, as written, on another origin", async () => {
    const html = readmeEmbedExample();
    expect(html.trim().split('\n')).toHaveLength(5);
    expect(html).not.toMatch(/eyJ/); // no token in the HTML
    const page = await appPage(html, vigil.token(['gate-3']));
    await waitFor(async () => (await element(page)).state === 'playing', 20_000);
    const first = await element(page);
    await waitFor(async () => (await element(page)).framesDecoded > first.framesDecoded + 15, 10_000);
    const p = await element(page);
    expect(p.videoWidth).toBe(640);
    expect(p.status).toBe('');
    const ttff = await page.evaluate(() => (document.querySelector('vigil-feed') as unknown as { feed: { ttffMs: number } }).feed.ttffMs);
    console.log(`[embed] README example playing; play() -> first decoded frame ${ttff} ms`);
    await page.close();
  });

  it('takes attributes and properties, and reports through DOM events (what React and Vue bind to)', async () => {
    const page = await appPage(
      `<script src="${VIGIL}/sdk/vigil.js"></script>
       <vigil-feed id="a" camera="gate-3" quality="high" style="width: 320px"></vigil-feed>
       <vigil-feed id="b" camera="vault" style="width: 320px"></vigil-feed>
       <script>
         window.events = [];
         for (const type of ['statechange', 'qualitychange', 'vigilerror'])
           document.addEventListener(type, (e) => events.push([e.target.id, type, e.detail.state || e.detail.quality || e.detail.code]));
         // Configured after the elements exist: they wait for it.
         setTimeout(() => Vigil.configure({ url: '${VIGIL}', token: () => fetch('/vigil-token').then((r) => r.text()) }), 300);
       </script>\n`,
      vigil.token(['gate-*']),
    );
    await waitFor(async () => (await element(page, '#a')).state === 'playing', 20_000);
    // Outside the token's scope: forbidden, shown, reported, not retried.
    await waitFor(async () => (await element(page, '#b')).state === 'forbidden', 10_000);
    expect((await element(page, '#b')).status).toMatch(/not allowed/i);

    // Property -> attribute: another camera, then the paused property pauses on the server.
    await page.evaluate(() => {
      const a = document.querySelector('#a') as HTMLElement & { camera: string };
      a.camera = 'gate-4';
    });
    await waitFor(async () => (await element(page, '#a')).state === 'playing', 20_000);
    expect(await page.getAttribute('#a', 'camera')).toBe('gate-4');
    await page.evaluate(() => ((document.querySelector('#a') as HTMLElement & { paused: boolean }).paused = true));
    await waitFor(() => consumers.live().length === 1 && consumers.live()[0]!.paused, 10_000).catch((err) => {
      throw new Error(`${err.message}: consumers ${JSON.stringify(consumers.live().map((c) => [c.appData, c.paused, c.closed]))}`);
    });
    expect((await element(page, '#a')).state).toBe('paused');
    await page.evaluate(() => document.querySelector('#a')!.removeAttribute('paused'));
    await waitFor(async () => (await element(page, '#a')).state === 'playing', 10_000);
    expect(consumers.live()[0]!.paused).toBe(false);

    // Removing the element closes its consumer on the server.
    await page.evaluate(() => document.querySelector('#a')!.remove());
    await waitFor(() => consumers.live().length === 0, 10_000);

    const events = (await page.evaluate(() => (window as unknown as { events: string[][] }).events)).map((e) => e.join(':'));
    expect(events).toEqual(expect.arrayContaining(['a:statechange:playing', 'a:statechange:paused', 'b:statechange:forbidden', 'b:vigilerror:forbidden']));
    expect(events.filter((e) => e.startsWith('b:vigilerror'))).toHaveLength(1);
    await page.close();
  });
});

describe('<vigil-feed> on an origin the server does not accept', () => {
  it('says so in words and stops retrying (the browser hides the 403; the SDK asks the server over CORS)', async () => {
    // A real third origin, not in http.allowedOrigins: the WebSocket upgrade gets 403.
    const html = readmeEmbedExample().replaceAll(VIGIL, vigil.url);
    const stranger = createServer((req, res) => {
      if (req.url === '/vigil-token') res.writeHead(200, { 'content-type': 'text/plain' }).end(vigil.token(['gate-3']));
      else res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>\n<html><head><meta charset="utf-8"><title>x</title></head><body>\n${html}</body></html>`);
    });
    await new Promise<void>((r) => stranger.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(stranger.address() as AddressInfo).port}`;
    const page = await browser.newPage();
    try {
      const errors: string[] = [];
      await page.exposeFunction('recordError', (code: string) => errors.push(code));
      await page.addInitScript(() => document.addEventListener('vigilerror', (e) => (window as unknown as { recordError(c: string): void }).recordError((e as CustomEvent).detail.code)));
      await page.goto(`${origin}/`);
      await waitFor(async () => (await element(page)).state === 'refused', 15_000);
      const p = await element(page);
      expect(p.status).toContain(`does not accept pages from ${origin}`);
      expect(p.status).toContain('http.allowedOrigins');
      // Not retried: one refusal reported, and it stays so.
      await new Promise((r) => setTimeout(r, 2500));
      expect(errors).toEqual(['origin_not_allowed']);
      expect((await element(page)).state).toBe('refused');
    } finally {
      await page.close();
      stranger.close();
    }
  });

  it('the probe itself: 426 to a plain GET, saying whether the Origin would be accepted', async () => {
    const probe = async (origin: string) => {
      const res = await fetch(`${vigil.url}/ws`, { headers: { origin } });
      return { status: res.status, upgrade: res.headers.get('upgrade'), cors: res.headers.get('access-control-allow-origin'), body: await res.json() };
    };
    expect(await probe(APP)).toEqual({ status: 426, upgrade: 'websocket', cors: '*', body: { code: 'upgrade_required', originAllowed: true } });
    expect((await probe('https://evil.example')).body).toEqual({ code: 'upgrade_required', originAllowed: false });
    expect((await probe(new URL(vigil.url).origin)).body.originAllowed).toBe(true);
  });
});

describe('<vigil-feed> in Firefox', () => {
  it("README's 5-line example plays on a real second origin", async () => {
    // As written, but pointed at the test server and at the VP8 camera.
    app.html = readmeEmbedExample().replaceAll(VIGIL, vigil.url).replace('camera="gate-3"', 'camera="gate-4"');
    expect(app.html).toContain('camera="gate-4"');
    app.token = vigil.token(['gate-4']);
    const firefox = await launchFirefox();
    try {
      const page = await firefox.newPage();
      await page.goto(`${app.origin}/`);
      const probeEl = () =>
        page.evaluate(async () => {
          const el = document.querySelector('vigil-feed') as HTMLElement & { state: string; video: HTMLVideoElement; getStats(): Promise<{ framesDecoded: number } | undefined> };
          return { state: el.state, videoWidth: el.video.videoWidth, framesDecoded: (await el.getStats())?.framesDecoded ?? 0, origin: location.origin };
        });
      const t0 = Date.now();
      await waitFor(async () => (await probeEl()).state === 'playing', 20_000);
      console.log(`[embed] firefox playing ${Date.now() - t0} ms after the page loaded`);
      const first = await probeEl();
      expect(first.origin).toBe(app.origin);
      expect(first.origin).not.toBe(new URL(vigil.url).origin);
      await waitFor(async () => (await probeEl()).framesDecoded > first.framesDecoded + 15, 10_000);
      expect((await probeEl()).videoWidth).toBe(640);
      await page.close();

      // The H.264 camera: offline Firefox cannot decode it. Said in words, not retried.
      app.html = app.html.replace('camera="gate-4"', 'camera="gate-3"');
      app.token = vigil.token(['gate-3']);
      const h264 = await firefox.newPage();
      await h264.goto(`${app.origin}/`);
      const shown = () =>
        h264.evaluate(() => {
          const el = document.querySelector('vigil-feed') as HTMLElement & { state: string };
          return { state: el.state, status: el.shadowRoot!.querySelector('[part=status]')!.textContent ?? '' };
        });
      await waitFor(async () => (await shown()).state === 'unsupported', 15_000);
      expect((await shown()).status).toMatch(/cannot play this camera: this browser cannot receive H264/);
      await new Promise((r) => setTimeout(r, 1500)); // longer than the element's first retry (1 s)
      expect((await shown()).state).toBe('unsupported');
      expect(consumers.live()).toHaveLength(0);
      await h264.close();
    } finally {
      await firefox.close();
    }
  });
});
