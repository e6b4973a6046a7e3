// Test harness for the simulator core: a device in a temp dir and a host session speaking raw fastboot to it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';
import type { SimSession } from '../../../src/sim/fastboot/connection.js';
import { parseSimSpec } from '../../../src/sim/fastboot/spec.js';

export interface Reply {
  status: string;
  text: string;
  info: string[];
}

export interface Harness {
  dev: FastbootSimDevice;
  s: SimSession;
  dir: string;
  cmd(text: string): Promise<Reply>;
  download(data: Uint8Array, chunk?: number): Promise<Reply>;
  flash(partition: string, data: Uint8Array): Promise<Reply>;
  close(): Promise<void>;
}

/** Read packets until OKAY, FAIL or DATA; INFO/TEXT lines are collected. */
export async function readReply(s: SimSession): Promise<Reply> {
  const info: string[] = [];
  for (;;) {
    const p = Buffer.from(await s.read(256)).toString('latin1');
    const status = p.slice(0, 4);
    if (status === 'INFO' || status === 'TEXT') info.push(p.slice(4));
    else return { status, text: p.slice(4), info };
  }
}

export async function makeHarness(spec = 'fastboot:UNIT?partitions=boot:1M,system:4M&max-download=1M'): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-unit-'));
  const dev = await FastbootSimDevice.create({ ...parseSimSpec(spec), storeDir: join(dir, 'store') });
  const h: Harness = {
    dev,
    s: dev.connect(),
    dir,
    async cmd(text) {
      await h.s.write(Buffer.from(text, 'latin1'));
      return readReply(h.s);
    },
    async download(data, chunk = 16384) {
      const r = await h.cmd(`download:${data.length.toString(16).padStart(8, '0')}`);
      if (r.status !== 'DATA') return r;
      for (let off = 0; off < data.length; off += chunk) await h.s.write(data.subarray(off, Math.min(data.length, off + chunk)));
      return readReply(h.s);
    },
    async flash(partition, data) {
      const r = await h.download(data);
      if (r.status !== 'OKAY') return r;
      return h.cmd(`flash:${partition}`);
    },
    async close() {
      await dev.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** A minimal Android sparse image from chunks. */
export function sparseImage(
  blockSize: number,
  chunks: Array<{ type: 'raw'; data: Uint8Array } | { type: 'fill'; blocks: number; value: number } | { type: 'skip'; blocks: number }>,
  override: { totalBlocks?: number; totalChunks?: number } = {},
): Buffer {
  const parts: Buffer[] = [];
  let blocks = 0;
  for (const c of chunks) {
    const head = Buffer.alloc(12);
    if (c.type === 'raw') {
      const n = c.data.length / blockSize;
      head.writeUInt16LE(0xcac1, 0);
      head.writeUInt32LE(n, 4);
      head.writeUInt32LE(12 + c.data.length, 8);
      parts.push(head, Buffer.from(c.data));
      blocks += n;
    } else if (c.type === 'fill') {
      head.writeUInt16LE(0xcac2, 0);
      head.writeUInt32LE(c.blocks, 4);
      head.writeUInt32LE(16, 8);
      const v = Buffer.alloc(4);
      v.writeUInt32LE(c.value >>> 0);
      parts.push(head, v);
      blocks += c.blocks;
    } else {
      head.writeUInt16LE(0xcac3, 0);
      head.writeUInt32LE(c.blocks, 4);
      head.writeUInt32LE(12, 8);
      parts.push(head);
      blocks += c.blocks;
    }
  }
  const h = Buffer.alloc(28);
  h.writeUInt32LE(0xed26ff3a, 0);
  h.writeUInt16LE(1, 4);
  h.writeUInt16LE(0, 6);
  h.writeUInt16LE(28, 8);
  h.writeUInt16LE(12, 10);
  h.writeUInt32LE(blockSize, 12);
  h.writeUInt32LE(override.totalBlocks ?? blocks, 16);
  h.writeUInt32LE(override.totalChunks ?? chunks.length, 20);
  return Buffer.concat([h, ...parts]);
}
