import { defineConfig } from 'vitest/config';

// The tests StrykerJS runs against each mutant of the security core: the
// signaling unit tests (no mediasoup worker, so a run takes seconds).
export default defineConfig({
  test: {
    include: ['server/test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
