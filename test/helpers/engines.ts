/**
 * The two browser engines the SDK's real-browser tests run on, behind one
 * small page interface:
 * - Chromium: Debian's `chromium`, driven by playwright-core over CDP
 *   (`launchChromium`, flags in DEVELOPERS.md);
 * - Firefox: Debian's `firefox-esr`, driven by puppeteer-core over WebDriver
 *   BiDi (Playwright's Firefox is a patched build that cannot be downloaded
 *   here; puppeteer-core speaks BiDi to a stock Firefox and downloads nothing).
 *
 * Firefox and loopback ICE (Firefox ESR 153, nICEr): the tests' Vigil listens
 * on 127.0.0.1 only. Firefox (1) gathers loopback host candidates only with
 * `media.peerconnection.ice.loopback`, (2) never pairs a non-loopback local
 * candidate with a loopback remote one (Chromium does, which is why Chromium
 * needs no setting), and (3) gathers only the default route's address unless
 * the page has camera or microphone permission ("default address only", a
 * privacy rule for pages without capture), which drops the loopback address
 * again. A viewer page never captures, so the test profile grants the
 * permission by default (`permissions.default.camera`). None of this applies
 * to a Vigil whose WebRTC address is a real interface (`webrtc.listenIp` /
 * `announcedAddress`), which is every deployment; README says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser as PwBrowser, Page as PwPage } from 'playwright-core';
import puppeteer, { type Browser as PpBrowser, type Page as PpPage } from 'puppeteer-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './browser.ts';
import { waitFor } from './vigil.ts';

export type Engine = 'chromium' | 'firefox';

/** Every engine the cross-engine SDK tests run on. */
export const ENGINES: readonly Engine[] = ['chromium', 'firefox'];

export const FIREFOX_PATH = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';

/** Firefox preferences of the test profile; see the file head for the ICE ones. */
export const FIREFOX_PREFS: Record<string, unknown> = {
  'media.peerconnection.ice.loopback': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // Muted video autoplays, as in Chromium (the SDK mutes); no prompts in a test profile.
  'media.autoplay.default': 0,
  // No background traffic from a machine without internet (puppeteer already
  // turns off updates, telemetry and safe browsing for automation).
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.safebrowsing.update.enabled': false,
};

/** A page in either engine: the calls the SDK tests make, with one meaning. */
export interface EnginePage {
  readonly engine: Engine;
  goto(url: string): Promise<void>;
  /** Runs `fn(arg)` in the page (serialized, as both drivers do) and returns its JSON-able result. */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Resizes the viewport, CSS px. */
  setViewport(width: number, height: number): Promise<void>;
  /** Clicks the first element matching a CSS selector. */
  click(selector: string): Promise<void>;
  /** Presses one key (e.g. `Escape`) on the focused element. */
  press(key: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

/** A browser of either engine with a fresh profile. */
export interface EngineBrowser {
  readonly engine: Engine;
  /** A new page, `viewport` in CSS px (engine default when omitted). */
  newPage(viewport?: { width: number; height: number }): Promise<EnginePage>;
  close(): Promise<void>;
}

const logPageErrors = (message: string) => console.error('page error:', message);

/** Wraps a Playwright page (Chromium). */
export function playwrightPage(page: PwPage): EnginePage {
  return {
    engine: 'chromium',
    goto: async (url) => void (await page.goto(url)),
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => never, arg),
    setViewport: (width, height) => page.setViewportSize({ width, height }),
    click: (selector) => page.locator(selector).first().click(),
    press: (key) => page.keyboard.press(key),
    screenshot: async (path) => void (await page.screenshot({ path })),
    close: () => page.close(),
  };
}

function puppeteerPage(page: PpPage): EnginePage {
  return {
    engine: 'firefox',
    goto: async (url) => void (await page.goto(url)),
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => never, arg) as never,
    setViewport: (width, height) => page.setViewport({ width, height }),
    click: (selector) => page.click(selector),
    press: (key) => page.keyboard.press(key as never),
    screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png` })),
    close: () => page.close(),
  };
}

function chromiumBrowser(browser: PwBrowser): EngineBrowser {
  return {
    engine: 'chromium',
    async newPage(viewport) {
      const page = await browser.newPage(viewport ? { viewport } : {});
      page.on('pageerror', (err) => logPageErrors(err.message));
      return playwrightPage(page);
    },
    close: () => browser.close(),
  };
}

/**
 * Launches headless Firefox ESR with a fresh profile (removed on close).
 * @throws when the binary is missing (scripts/apt-packages.txt installs `firefox-esr`)
 */
export async function launchFirefox(): Promise<EngineBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-firefox-'));
  const browser: PpBrowser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: FIREFOX_PREFS,
  });
  return {
    engine: 'firefox',
    async newPage(viewport) {
      const page = await browser.newPage();
      page.on('pageerror', (err) => logPageErrors((err as Error).message));
      if (viewport) await page.setViewport(viewport);
      return puppeteerPage(page);
    },
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Launches `engine` headless with a fresh profile. */
export async function launchEngine(engine: Engine): Promise<EngineBrowser> {
  return engine === 'firefox' ? launchFirefox() : chromiumBrowser(await launchChromium());
}

/**
 * For a `describe.each(ENGINES)` block: launches `engine` before the block's
 * tests, once `idle()` holds (the previous engine's sessions are gone from the
 * server; polled every 100 ms for up to 10 s), and closes it after them.
 * @returns the block's browser (valid inside its tests)
 */
export function useEngine(engine: Engine, idle: () => Promise<boolean>): () => EngineBrowser {
  let browser: EngineBrowser | undefined;
  beforeAll(async () => {
    await waitFor(idle, 10_000);
    browser = await launchEngine(engine);
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error(`${engine} is not launched`);
    return browser;
  };
}
