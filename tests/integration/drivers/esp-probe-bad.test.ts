// Ports that are not ESP boards: the probe gives up within its bound and claims nothing; a port another program
// holds is refused as busy.
import { afterEach, describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/contracts/errors.js';
import type { SerialCandidate } from '../../../src/contracts/family.js';
import type { DeviceLink, SerialLineSettings, Transport } from '../../../src/contracts/links.js';
import { createEspFamily } from '../../../src/drivers/esp/index.js';
import { openSerialTransport } from '../../../src/transports/serial.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';

type Behaviour = 'silence' | 'garbage' | 'echo';

/** A serial line onto something that is not an Espressif loader. */
function fakePort(behaviour: Behaviour, settings: SerialLineSettings): Transport {
  let closed = false;
  let queue: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  const push = (b: Uint8Array): void => {
    queue.push(b);
    wake?.();
  };
  const noise = behaviour === 'garbage' ? setInterval(() => push(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)), 20) : undefined;
  return {
    kind: 'serial',
    get closed() {
      return closed;
    },
    async write(data) {
      if (behaviour === 'echo') push(data.slice());
    },
    async drain() {},
    async read(_max, options = {}) {
      for (;;) {
        const head = queue.shift();
        if (head) return head;
        if (closed) throw new FlashError('disconnected', 'closed');
        if (options.signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
    async close() {
      closed = true;
      clearInterval(noise);
      queue = [];
    },
    serial: {
      path: `fake-${behaviour}`,
      settings,
      update: async () => undefined,
      setSignals: async () => undefined,
      flush: async () => {
        queue = [];
      },
    },
  };
}

function candidate(open: (s: SerialLineSettings) => Promise<Transport>): SerialCandidate {
  return { kind: 'serial', key: 'fake', transport: 'serial', path: 'fake', protocol: 'esp', openStream: open };
}

describe('ESP probe on ports that are not ESP boards', () => {
  let pair: PtyPair | undefined;
  let link: DeviceLink | undefined;
  afterEach(async () => {
    await link?.close();
    await pair?.close();
    pair = link = undefined;
  });

  it.each(['silence', 'garbage', 'echo'] as const)('%s: rejects within its bound', async (behaviour) => {
    const family = createEspFamily({ probeTimeoutMs: 8000 });
    const c = candidate(async (s) => fakePort(behaviour, s));
    link = family.connect(c);
    const started = Date.now();
    await expect(family.probe(link, c, new AbortController().signal)).rejects.toMatchObject({ code: 'device_rejected' });
    expect(Date.now() - started).toBeLessThan(8500);
  });

  it('a port held by another program is refused as busy, naming what to close', async () => {
    pair = await ptyPair();
    const holder = await openSerialTransport(pair.host, { baudRate: 115200 });
    try {
      const family = createEspFamily({ probeTimeoutMs: 5000 });
      const c: SerialCandidate = { kind: 'serial', key: pair.host, transport: 'serial', path: pair.host, protocol: 'esp' };
      link = family.connect(c);
      const err = await family.probe(link, c, new AbortController().signal).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'port_busy' });
      expect(String((err as Error).message)).toMatch(/in use by another program/);
    } finally {
      await holder.close();
    }
  });
});
