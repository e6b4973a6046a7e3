// Test harness for core integration tests: a real Station over file devices in a temp dir, with its events recorded.
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStation, type Station } from '../../../src/core/station.js';
import type { Settings } from '../../../src/core/settings.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { FileDeviceProvider, type FileDeviceSpec } from './file-device.js';

export interface Harness {
  dir: string;
  station: Station;
  provider: FileDeviceProvider;
  events: ServerMessage[];
  of<T extends ServerMessage['type']>(type: T, jobId?: string): Array<Extract<ServerMessage, { type: T }>>;
  waitFor<T extends ServerMessage['type']>(type: T, pred?: (m: Extract<ServerMessage, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>;
  image(name: string, bytes: number): { path: string; sha256: string; data: Buffer };
  device(id: string, extra?: Partial<FileDeviceSpec>): FileDeviceSpec;
  close(): Promise<void>;
}

export async function harness(devices: Array<string | FileDeviceSpec>, settings: Partial<Settings> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-core-'));
  const spec = (id: string, extra: Partial<FileDeviceSpec> = {}): FileDeviceSpec => ({
    id, dir, partitions: { boot: 16 << 20, system: 64 << 20 }, ...extra,
  });
  const provider = new FileDeviceProvider(devices.map((d) => (typeof d === 'string' ? spec(d) : d)));
  const events: ServerMessage[] = [];
  const station = await createStation({ dataDir: join(dir, 'data'), providers: [provider], families: [provider.family], settings });
  station.subscribe((m) => events.push(m));
  // Let attached devices finish describing.
  await new Promise((r) => setTimeout(r, 20));
  const h: Harness = {
    dir,
    station,
    provider,
    events,
    of: (type, jobId) =>
      events.filter((e) => e.type === type && (jobId === undefined || (e as { jobId?: string }).jobId === jobId)) as never,
    waitFor: (type, pred, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const match = (m: ServerMessage): boolean => m.type === type && (!pred || pred(m as never));
        const found = events.find(match);
        if (found) return resolve(found as never);
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no ${type} within ${timeoutMs} ms`));
        }, timeoutMs);
        const off = station.subscribe((m) => {
          if (match(m)) {
            clearTimeout(timer);
            off();
            resolve(m as never);
          }
        });
      }),
    image: (name, bytes) => {
      const data = randomBytes(bytes);
      const path = join(dir, name);
      writeFileSync(path, data);
      return { path, data, sha256: createHash('sha256').update(data).digest('hex') };
    },
    device: spec,
    close: async () => {
      await station.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
