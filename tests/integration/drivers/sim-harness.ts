// Simulated fastboot devices for driver tests (the fastboot-sim helper's simulator behind its TCP face), and images.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';
import { startTcpFace, type SimSocketServer } from '../../../src/sim/fastboot/tcp-face.js';
import { parseSimSpec } from '../../../src/sim/fastboot/spec.js';
import type { Station } from '../../../src/core/station.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';

export interface RunningSim {
  device: FastbootSimDevice;
  face: SimSocketServer;
  dir: string;
  close(): Promise<void>;
}

export async function startTcpSim(spec: string, dir: string): Promise<RunningSim> {
  const parsed = parseSimSpec(spec);
  const storeDir = mkdtempSync(join(dir, 'store-'));
  const device = await FastbootSimDevice.create({ ...parsed, storeDir });
  const face = await startTcpFace(device, { port: 0 });
  return {
    device,
    face,
    dir: storeDir,
    async close() {
      await face.close();
      await device.close();
    },
  };
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'fb-host-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A raw image mixing random data, zero runs and runs of one repeated word (which travel as FILL). */
export function writeMixedImage(path: string, size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let off = 0; off < size; off += 64 * 1024) {
    const kind = rnd() % 4;
    const end = Math.min(size, off + 64 * 1024);
    if (kind === 0) continue; // zeros
    if (kind === 1) {
      for (let i = off; i + 4 <= end; i += 4) b.writeUInt32LE(0xdeadbeef, i);
      continue;
    }
    for (let i = off; i + 4 <= end; i += 4) b.writeUInt32LE(rnd(), i);
  }
  writeFileSync(path, b);
  return b;
}

/** img2simg (Debian android-sdk-libsparse-utils) of `raw` into `sparse`. */
export function img2simg(raw: string, sparse: string): void {
  execFileSync('img2simg', [raw, sparse]);
}

/** The first `length` bytes of a partition file. */
export async function readPartition(sim: RunningSim, name: string, length: number): Promise<Buffer> {
  const fh = await open(sim.device.partitionPath(name), 'r');
  try {
    const out = Buffer.alloc(length);
    await fh.read(out, 0, length, 0);
    return out;
  } finally {
    await fh.close();
  }
}

export function readFile(path: string): Buffer {
  return readFileSync(path);
}

/** The job's flash_completed or flash_failed, whichever comes; rejects after `timeoutMs`. */
export function ended(station: Station, jobId: string, timeoutMs: number): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`job ${jobId} did not end within ${timeoutMs} ms`)), timeoutMs);
    const off = station.subscribe((m) => {
      if ((m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === jobId) {
        clearTimeout(t);
        off();
        resolve(m);
      }
    });
  });
}
