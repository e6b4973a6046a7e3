// listenOn: the bound port for port 0, and the listen error (not a crash) for a port already taken.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { listenOn } from '../../../src/server/listen.js';

describe('listenOn', () => {
  it('resolves with the port the OS chose, and rejects with EADDRINUSE on a taken one', async () => {
    const a = createServer();
    const b = createServer();
    try {
      const port = await listenOn(a, 0, '127.0.0.1');
      expect(port).toBeGreaterThan(0);
      await expect(listenOn(b, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(a.listenerCount('error')).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });
});
