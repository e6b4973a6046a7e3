// A family written only for tests plugs in through the registry alone: match → probe → flash through start_flash; a
// candidate no family claims is never connected or probed; a target the family does not take is refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SerialCandidate } from '../../../src/contracts/family.js';
import type { CandidateProvider } from '../../../src/contracts/provider.js';
import { createStation } from '../../../src/core/station.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { createTestFamily } from '../../fixtures/test-family/family.js';
import { until } from '../../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'fs-test-family-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serial = (key: string, manufacturer: string, serialNo?: string): SerialCandidate => ({
  kind: 'serial', key, transport: 'serial', path: key, port: key, manufacturer, ...(serialNo ? { serial: serialNo } : {}),
});

describe('a test family through the registry', () => {
  it('is matched, probed and flashed at an address; an unclaimed candidate is never probed', async () => {
    const family = createTestFamily();
    const provider: CandidateProvider = {
      name: 'test',
      start: async (sink) => {
        sink.offer(serial('/dev/ttyTEST0', 'TestCo', 'TB0001'));
        sink.offer(serial('/dev/ttyOTHER', 'Someone else'));
      },
      stop: async () => undefined,
    };
    const station = await createStation({ dataDir: join(dir, 'data'), providers: [provider], families: [family] });
    try {
      await until(() => station.devices().some((d) => d.id === 'TB0001' && d.state === 'idle'), 5000, 'the test board');
      expect(station.devices()).toHaveLength(1);
      expect(station.devices()[0]).toMatchObject({ protocol: 'dfu', transport: 'serial', name: 'Test board /dev/ttyTEST0', targets: ['address'] });
      expect(family.connected).toEqual(['/dev/ttyTEST0']);
      expect(family.probed).toEqual(['/dev/ttyTEST0']);

      const image = join(dir, 'app.bin');
      const bytes = Buffer.alloc(4096);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
      writeFileSync(image, bytes);
      const events: ServerMessage[] = [];
      station.subscribe((m) => void events.push(m));
      const { jobId } = await station.startFlash({ deviceId: 'TB0001', address: '0x100', image });
      await until(() => events.some((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === jobId), 10_000, 'the job');
      expect(events.find((m) => m.type === 'flash_failed')).toBeUndefined();
      const mem = family.memory.get('/dev/ttyTEST0') as Uint8Array;
      expect(Buffer.from(mem.subarray(0x100, 0x100 + bytes.length)).equals(bytes)).toBe(true);
      expect(mem[0xff]).toBe(0);
      expect(station.job(jobId)?.stage ?? '').not.toMatch(/partition/);

      await expect(station.startFlash({ deviceId: 'TB0001', partition: 'boot', image })).rejects.toMatchObject({
        code: 'bad_request',
        message: expect.stringMatching(/takes an `address`/),
      });
      await expect(station.startFlash({ deviceId: 'TB0001', address: 'ten', image })).rejects.toMatchObject({ code: 'bad_request' });
      expect(family.probed).toEqual(['/dev/ttyTEST0']);
    } finally {
      await station.close();
    }
  });
});
