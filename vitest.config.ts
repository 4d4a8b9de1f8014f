import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; the real-media tests (test/e2e: mediasoup
// workers, ffmpeg, Chromium) run one file at a time so two cores are not
// oversubscribed. `npm test` runs both projects (scripts/test.sh).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{protocol,gateway,server,client-sdk}/test/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
