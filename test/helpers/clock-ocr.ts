/**
 * Glass-to-glass latency from the UTC clock the test-pattern camera burns
 * into each frame (gateway/src/ingest/test-pattern.ts, `HH:MM:SS.mmm UTC` at
 * the top left): the page draws the frame the <video> shows onto a canvas
 * and notes the time, Tesseract (Debian `tesseract-ocr`) reads the clock.
 */
import { spawn } from 'node:child_process';
import type { Page } from 'playwright-core';

export interface ClockReading {
  /** Wall clock when the frame was on screen, ms since epoch. */
  shownAt: number;
  /** The clock in the frame, ms since midnight UTC (undefined: unreadable). */
  clockMs: number | undefined;
  /** shownAt - clock, ms (undefined: unreadable). */
  latencyMs: number | undefined;
  /** What Tesseract read (for failure messages). */
  text: string;
}

/** Runs Tesseract on a PNG (one line of text, digits and separators only). */
function ocr(png: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tesseract', ['stdin', 'stdout', '--psm', '7', '-c', 'tessedit_char_whitelist=0123456789:.'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
    child.stdin.end(png);
  });
}

/**
 * Reads the clock off the frame `selector` (a <video>) shows now.
 * @param band top band of the frame holding the clock, px of the video's own size
 */
export async function readClock(page: Page, selector: string, band = { x: 0, y: 0, width: 640, height: 64 }): Promise<ClockReading> {
  const { shownAt, dataUrl } = await page.evaluate(
    ({ selector, band }) => {
      const video = document.querySelector(selector) as HTMLVideoElement;
      const canvas = document.createElement('canvas');
      const scale = 2;
      canvas.width = band.width * scale;
      canvas.height = band.height * scale;
      const ctx = canvas.getContext('2d')!;
      const shownAt = Date.now();
      ctx.drawImage(video, band.x, band.y, band.width, band.height, 0, 0, canvas.width, canvas.height);
      // Dark text on white reads best: invert and threshold the white-on-black clock.
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < img.data.length; i += 4) {
        const v = (img.data[i]! + img.data[i + 1]! + img.data[i + 2]!) / 3 > 200 ? 0 : 255;
        img.data[i] = img.data[i + 1] = img.data[i + 2] = v;
      }
      ctx.putImageData(img, 0, 0);
      return { shownAt, dataUrl: canvas.toDataURL('image/png') };
    },
    { selector, band },
  );
  const text = await ocr(Buffer.from(dataUrl.split(',')[1]!, 'base64'));
  const m = /(\d{2}):(\d{2}):(\d{2})\.(\d{3})/.exec(text);
  if (!m) return { shownAt, clockMs: undefined, latencyMs: undefined, text };
  const clockMs = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
  let latencyMs = (shownAt % 86_400_000) - clockMs;
  if (latencyMs < -43_200_000) latencyMs += 86_400_000; // across midnight UTC
  return { shownAt, clockMs, latencyMs, text };
}
