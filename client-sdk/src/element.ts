/**
 * `<vigil-feed>`: a live camera feed as an HTML element (an autonomous custom
 * element, HTML Living Standard §4.13), usable from plain HTML, React and Vue
 * without wrappers: configure it with attributes or properties, listen to DOM events.
 *
 *   <script src="https://vigil.example/sdk/vigil.js"></script>
 *   <script>Vigil.configure({ url: 'https://vigil.example', token: () => fetchToken() });</script>
 *   <vigil-feed camera="gate-3" quality="auto"></vigil-feed>
 *
 * Shadow DOM: a muted `playsinline` <video> (the SDK sets `autoplay` when it
 * attaches a stream), a status line and a "tap to play" button.
 * The token never goes in HTML: every element of the page shares one client
 * (one WebSocket, one receive transport) created from {@link configure}.
 *
 * Attributes (each also a property):
 * - `camera`: camera id;
 * - `quality`: `auto` (default), `high` or `low`;
 * - `paused`: present = paused (property: boolean);
 * - `autopause`: `"false"` keeps media flowing while the element is outside
 *   the viewport (IntersectionObserver) or the tab is hidden (visibilitychange);
 *   by default both pause the feed on the server.
 *
 * Read-only properties: `state` (FeedState, `idle`, or `unsupported`: this
 * browser cannot decode the camera's codec, e.g. H.264 in a Firefox without
 * OpenH264; shown in words, not retried; or `refused`: the server does not
 * accept pages from this origin, `http.allowedOrigins`; not retried),
 * `degraded` (FeedDegradation or undefined; also the `degraded` attribute,
 * set to the reason, and a notice in the status line while playing),
 * `feed` (the Feed), `video`.
 * Method: `getStats()`. Events (bubbling, composed CustomEvents):
 * `statechange` (detail `{ state }`), `degradedchange` (detail `{ degraded }`),
 * `qualitychange` (detail `{ quality }`),
 * `autoplaychange` (detail `{ blocked }`: the browser refused to start the video
 * without a gesture, e.g. iOS Low Power Mode; the element shows a "tap to play" button),
 * `vigilerror` (detail `{ error, code }`: a refused play or connection; it retries by itself unless forbidden, unsupported or refused).
 */
import { ErrorCode, ProtocolError } from '@vigil/protocol';
import { connect, type ConnectOptions, type VigilClient } from './client.ts';
import type { Feed, FeedDegradation, FeedState, FeedStats, QualityMode } from './feed.ts';

/** Retry of a refused play()/connection: 1 s doubling to 30 s. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** What the element shows: the feed's state, before it starts (`idle`), a codec this browser cannot decode (`unsupported`), or a server that refuses this page's origin (`refused`). */
export type ElementState = FeedState | 'idle' | 'unsupported' | 'refused';

let options: ConnectOptions | undefined;
let shared: Promise<VigilClient> | undefined;
let generation = 0;
const waiting: (() => void)[] = [];
const elements = new Set<VigilFeedElement>();

/**
 * Sets where `<vigil-feed>` elements connect and how they get a token; call
 * once per page (before or after the elements appear). Calling it again
 * closes the current connection and re-plays every element with the new options.
 * @param opts `url` of Vigil, `token`: a JWT or (better) a callback fetching one from your backend
 */
export function configure(opts: ConnectOptions): void {
  const reconfigure = options !== undefined;
  options = opts;
  generation++;
  if (shared) {
    const old = shared;
    shared = undefined;
    old.then((c) => c.close(), () => {});
  }
  for (const w of waiting.splice(0)) w();
  if (reconfigure) for (const el of elements) el.restart();
}

/**
 * The page's shared client, connecting on first use (after {@link configure});
 * retries a failed connection with backoff, reporting each failure to `onError`.
 */
export async function sharedClient(onError?: (err: Error) => void): Promise<VigilClient> {
  while (!options) await new Promise<void>((r) => waiting.push(r));
  if (!shared) {
    const gen = generation;
    const opts = options;
    shared = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await connect(opts);
        } catch (err) {
          if (gen !== generation) throw err;
          onError?.(err as Error);
          // The server refuses this page's origin: retrying cannot help (configure() starts over).
          if (err instanceof ProtocolError && err.code === ErrorCode.OriginNotAllowed) throw err;
          await new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt)));
          if (gen !== generation) throw err;
        }
      }
    })();
  }
  return shared;
}

const STATUS: Record<ElementState, string> = {
  idle: '',
  unsupported: 'This browser cannot play this camera',
  connecting: 'Connecting…',
  playing: '',
  paused: '',
  stalled: 'Camera stalled, waiting for video…',
  reconnecting: 'Reconnecting…',
  offline: 'Camera offline',
  forbidden: 'Not allowed to view this camera',
  refused: 'Cannot connect',
  stopped: '',
};

const TEMPLATE = `
<style>
  :host { display: block; position: relative; overflow: hidden; background: #000; aspect-ratio: 16 / 9; contain: content; }
  :host([hidden]) { display: none; }
  video { display: block; width: 100%; height: 100%; object-fit: contain; background: #000; }
  .status { position: absolute; left: 0; right: 0; bottom: 0; margin: 0; padding: 4px 8px; font: 13px/1.4 system-ui, sans-serif;
            color: #fff; background: rgba(0, 0, 0, .6); pointer-events: none; }
  .tap { position: absolute; inset: 0; margin: auto; width: max-content; height: max-content; padding: 12px 20px; border: 0;
         border-radius: 24px; font: 600 16px system-ui, sans-serif; color: #000; background: #fff; cursor: pointer; touch-action: manipulation; }
  [hidden] { display: none !important; }
</style>
<video part="video" muted playsinline disablepictureinpicture></video>
<p part="status" class="status" role="status" hidden></p>
<button part="tap" class="tap" type="button" hidden>Autoplay blocked: tap to play</button>`;

// Lets the module load where HTMLElement does not exist (SSR, Node); the element is only defined in browsers.
const Base = (typeof HTMLElement === 'undefined' ? class {} : HTMLElement) as typeof HTMLElement;

export class VigilFeedElement extends Base {
  static readonly observedAttributes = ['camera', 'quality', 'paused', 'autopause'];

  readonly #video: HTMLVideoElement;
  readonly #status: HTMLElement;
  readonly #tap: HTMLButtonElement;
  #feed: Feed | undefined;
  #state: ElementState = 'idle';
  #stateDetail: string | undefined;
  #degraded: FeedDegradation | undefined;
  #run = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #io: IntersectionObserver | undefined;
  /** undefined until the first IntersectionObserver report (so tiles outside the viewport start paused). */
  #inView: boolean | undefined;
  readonly #onVisibility = (): void => this.#applyPause();

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE;
    this.#video = root.querySelector('video')!;
    this.#status = root.querySelector('.status')!;
    this.#tap = root.querySelector('.tap')!;
    this.#tap.addEventListener('click', (ev) => {
      ev.stopPropagation();
      this.#video.play().catch(() => {});
    });
  }

  /** Camera id (attribute `camera`). */
  get camera(): string {
    return this.getAttribute('camera') ?? '';
  }
  set camera(v: string) {
    this.setAttribute('camera', v);
  }

  /** `auto` (default), `high` or `low` (attribute `quality`). */
  get quality(): QualityMode {
    const q = this.getAttribute('quality');
    return q === 'high' || q === 'low' ? q : 'auto';
  }
  set quality(v: QualityMode) {
    this.setAttribute('quality', v);
  }

  /** Paused by the app (attribute `paused`). */
  get paused(): boolean {
    return this.hasAttribute('paused');
  }
  set paused(v: boolean) {
    this.toggleAttribute('paused', Boolean(v));
  }

  /** Pause while outside the viewport or in a hidden tab (default true; attribute `autopause="false"` turns it off). */
  get autopause(): boolean {
    return this.getAttribute('autopause') !== 'false';
  }
  set autopause(v: boolean) {
    this.setAttribute('autopause', v ? 'true' : 'false');
  }

  /** Why the camera plays badly (reason and words), or undefined. */
  get degraded(): FeedDegradation | undefined {
    return this.#degraded;
  }

  /** The feed's state, `idle` before it starts, `unsupported` when this browser cannot decode the camera's codec. */
  get state(): ElementState {
    return this.#state;
  }

  /** The Feed behind the element (undefined until it plays). */
  get feed(): Feed | undefined {
    return this.#feed;
  }

  /** The <video> inside the shadow root. */
  get video(): HTMLVideoElement {
    return this.#video;
  }

  /** Receive statistics (see FeedStats); undefined before the feed starts. */
  getStats(): Promise<FeedStats | undefined> {
    return this.#feed ? this.#feed.getStats() : Promise.resolve(undefined);
  }

  connectedCallback(): void {
    elements.add(this);
    document.addEventListener('visibilitychange', this.#onVisibility);
    if (typeof IntersectionObserver === 'function') {
      this.#io = new IntersectionObserver((entries) => {
        const first = this.#inView === undefined;
        this.#inView = entries[entries.length - 1]!.isIntersecting;
        if (first) this.restart();
        else this.#applyPause();
      });
      this.#io.observe(this);
    } else {
      this.#inView = true;
      this.restart();
    }
  }

  disconnectedCallback(): void {
    elements.delete(this);
    document.removeEventListener('visibilitychange', this.#onVisibility);
    this.#io?.disconnect();
    this.#io = undefined;
    this.#inView = undefined;
    this.#stop();
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value || !this.isConnected || this.#inView === undefined) return;
    if (name === 'camera') this.restart();
    else if (name === 'quality') this.#feed?.setQuality(this.quality).catch((err: unknown) => this.#error(err));
    else this.#applyPause();
  }

  /** @internal (re)starts playing `camera` from scratch. */
  restart(): void {
    this.#stop();
    if (!this.isConnected || this.#inView === undefined || !this.camera) return;
    void this.#play(++this.#run, 0);
  }

  #shouldPause(): boolean {
    return this.paused || (this.autopause && (this.#inView === false || document.visibilityState === 'hidden'));
  }

  #applyPause(): void {
    const f = this.#feed;
    if (!f) return;
    (this.#shouldPause() ? f.pause() : f.resume()).catch((err: unknown) => this.#error(err));
  }

  async #play(run: number, attempt: number): Promise<void> {
    this.#setState('connecting');
    const client = await sharedClient((err) => {
      if (run === this.#run) this.#error(err);
    }).catch((err: unknown) => {
      if (run === this.#run && err instanceof ProtocolError && err.code === ErrorCode.OriginNotAllowed) this.#setState('refused', err.message);
      return undefined;
    });
    if (!client || run !== this.#run) return;
    let feed: Feed;
    try {
      feed = await client.play(this.camera, this.#video, { quality: this.quality, paused: this.#shouldPause() });
    } catch (err) {
      if (run !== this.#run) return;
      this.#error(err);
      if (err instanceof ProtocolError && err.code === ErrorCode.Forbidden) {
        this.#setState('forbidden');
        return;
      }
      // The browser lacks the codec (its RTP capabilities do not change): say which, do not retry.
      if (err instanceof ProtocolError && err.code === ErrorCode.UnsupportedCodec) {
        this.#setState('unsupported', err.message);
        return;
      }
      // Offline right now, a busy server, a closed client: try again later.
      this.#retryTimer = setTimeout(() => {
        if (run === this.#run) void this.#play(run, attempt + 1);
      }, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt));
      return;
    }
    if (run !== this.#run) {
      feed.stop();
      return;
    }
    this.#feed = feed;
    feed.on('state', (s) => {
      if (run !== this.#run) return;
      // The client was closed under us (configure() again): start over.
      if (s === 'stopped') return this.restart();
      this.#setState(s);
    });
    feed.on('degraded', (d) => {
      if (run === this.#run) this.#setDegraded(d);
    });
    this.#setDegraded(feed.degraded);
    feed.on('quality', (quality) => this.dispatchEvent(new CustomEvent('qualitychange', { detail: { quality }, bubbles: true, composed: true })));
    feed.on('autoplay', (blocked) => this.#setAutoplayBlocked(blocked));
    this.#setAutoplayBlocked(feed.autoplayBlocked);
    this.#setState(feed.state);
    // Attributes may have changed while play() was in flight.
    if (feed.mode !== this.quality) feed.setQuality(this.quality).catch((err: unknown) => this.#error(err));
    this.#applyPause();
  }

  #stop(): void {
    this.#run++;
    clearTimeout(this.#retryTimer);
    const f = this.#feed;
    this.#feed = undefined;
    f?.stop();
    this.#setAutoplayBlocked(false);
    this.#setDegraded(undefined);
    this.#setState('idle');
  }

  /** Shows the "tap to play" button while the browser refuses autoplay; tells the page (`autoplaychange`). */
  #setAutoplayBlocked(blocked: boolean): void {
    if (this.#tap.hidden === !blocked) return;
    this.#tap.hidden = !blocked;
    this.dispatchEvent(new CustomEvent('autoplaychange', { detail: { blocked }, bubbles: true, composed: true }));
  }

  /** @param detail the server's words for the status line (a ProtocolError message: never internals) */
  #setState(state: ElementState, detail?: string): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#stateDetail = detail;
    this.#renderStatus();
    this.setAttribute('state', state);
    this.dispatchEvent(new CustomEvent('statechange', { detail: { state }, bubbles: true, composed: true }));
  }

  /** The camera plays badly (or well again): a notice while playing, the `degraded` attribute, `degradedchange`. */
  #setDegraded(degraded: FeedDegradation | undefined): void {
    if (degraded?.reason === this.#degraded?.reason) return;
    this.#degraded = degraded;
    this.#renderStatus();
    if (degraded) this.setAttribute('degraded', degraded.reason);
    else this.removeAttribute('degraded');
    this.dispatchEvent(new CustomEvent('degradedchange', { detail: { degraded }, bubbles: true, composed: true }));
  }

  /** The status line: the state in words, or while playing the degradation notice. */
  #renderStatus(): void {
    const state = this.#state;
    let text = this.#stateDetail ? `${STATUS[state]}: ${this.#stateDetail}` : STATUS[state];
    if (!text && state === 'playing' && this.#degraded) text = `Degraded: ${this.#degraded.message}`;
    this.#status.textContent = text;
    this.#status.hidden = !text;
  }

  #error(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const code = err instanceof ProtocolError ? err.code : undefined;
    this.dispatchEvent(new CustomEvent('vigilerror', { detail: { error, code }, bubbles: true, composed: true }));
  }
}

/** Registers `<vigil-feed>` (the SDK does on load; no-op outside browsers or when already defined). */
export function defineVigilFeed(): void {
  if (typeof customElements === 'undefined' || customElements.get('vigil-feed')) return;
  customElements.define('vigil-feed', VigilFeedElement);
}
