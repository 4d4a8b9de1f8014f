/**
 * Embedded defaults for `npm start` with no config file: one demo camera, a
 * 1280x720 30 fps H.264 test pattern with a 1 s GOP, everything on loopback.
 */
export const DEFAULT_CONFIG_FILE = {
  cameras: [
    {
      id: 'demo-1',
      site: 'demo',
      codec: 'H264',
      source: { kind: 'test-pattern', width: 1280, height: 720, fps: 30, gopFrames: 30 },
    },
  ],
};
