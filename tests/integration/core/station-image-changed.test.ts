// An image file overwritten while it is flashed fails the job with image_mismatch, instead of completing with the
// new file's hash recorded for bytes the device never got (issue 15, defect 2): every kind of image that streams from
// its file (raw, raw with a .bmap, Android sparse, gzip, a plan's image in a folder or in a zip bundle).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { StartFlashRequest } from '../../../src/core/station-api.js';
import { until } from '../../helpers/until.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SIZE = 6 << 20;

/** A kind of image: `make` writes one (random bytes) and says how to flash it; `file` is the path that will change. */
interface Kind {
  make(dir: string): { request: Omit<StartFlashRequest, 'deviceId'>; file: string; rewrite(): void };
}

const raw = (dir: string, name: string): { path: string; rewrite(): void } => {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(SIZE));
  return { path, rewrite: () => writeFileSync(path, randomBytes(SIZE)) }; // same size, new bytes, new mtime
};

const KINDS: Record<string, Kind> = {
  raw: {
    make(dir) {
      const img = raw(dir, 'boot.img');
      return { request: { partition: 'boot', image: img.path }, file: img.path, rewrite: img.rewrite };
    },
  },
  'raw with a .bmap': {
    make(dir) {
      const img = raw(dir, 'mapped.img');
      execFileSync('bmaptool', ['create', '-o', `${img.path}.bmap`, img.path]);
      return { request: { partition: 'boot', image: img.path }, file: img.path, rewrite: img.rewrite };
    },
  },
  'Android sparse': {
    make(dir) {
      const img = raw(dir, 'plain.img');
      const sparse = join(dir, 'sparse.img');
      execFileSync('img2simg', [img.path, sparse]);
      return {
        request: { partition: 'boot', image: sparse }, file: sparse,
        rewrite: () => {
          img.rewrite();
          execFileSync('img2simg', [img.path, sparse]);
        },
      };
    },
  },
  gzip: {
    make(dir) {
      const path = join(dir, 'boot.img.gz');
      writeFileSync(path, gzipSync(randomBytes(SIZE), { level: 1 }));
      return { request: { partition: 'boot', image: path }, file: path, rewrite: () => writeFileSync(path, gzipSync(randomBytes(SIZE), { level: 1 })) };
    },
  },
  // Random bytes deflate to stored blocks; these (4 bits a byte) make real Huffman blocks, which new bytes mid-stream break.
  'gzip of compressible data': {
    make(dir) {
      const path = join(dir, 'text.img.gz');
      const nibbles = (): Buffer => gzipSync(randomBytes(SIZE).map((b) => b & 15));
      writeFileSync(path, nibbles());
      return { request: { partition: 'boot', image: path }, file: path, rewrite: () => writeFileSync(path, nibbles()) };
    },
  },
  'a plan folder': {
    make(dir) {
      const bundle = join(dir, 'bundle');
      mkdirSync(bundle);
      const img = raw(bundle, 'boot.img');
      writeFileSync(join(bundle, 'flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: 'boot.img' }] }));
      return { request: { plan: bundle }, file: img.path, rewrite: img.rewrite };
    },
  },
  'a zip bundle': {
    make(dir) {
      const bundle = join(dir, 'zipped');
      mkdirSync(bundle);
      raw(bundle, 'boot.img');
      writeFileSync(join(bundle, 'flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: 'boot.img' }] }));
      const zip = join(dir, 'bundle.zip');
      execFileSync('zip', ['-q', '-0', '-j', '-X', zip, join(bundle, 'flash.json'), join(bundle, 'boot.img')]);
      return {
        request: { plan: zip }, file: zip,
        rewrite: () => {
          writeFileSync(join(bundle, 'boot.img'), randomBytes(SIZE));
          // In place, as an editor or `cp` would: same inode, new bytes.
          execFileSync('zip', ['-q', '-0', '-j', '-X', `${zip}.new.zip`, join(bundle, 'flash.json'), join(bundle, 'boot.img')]);
          execFileSync('cp', [`${zip}.new.zip`, zip]);
        },
      };
    },
  },
};

describe('an image that changes while it is flashed', () => {
  it.each(Object.keys(KINDS))('%s: fails the job with image_mismatch and records no hash', async (kind) => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 4 << 20 }));
    const image = KINDS[kind]!.make(h.dir);
    const r = await h.station.startFlash({ deviceId: 'DEV1', ...image.request });
    await until(() => (h?.station.job(r.jobId)?.bytesTransferred ?? 0) > 1 << 20);
    image.rewrite();
    const end = await h.waitFor('flash_failed', (m) => m.jobId === r.jobId);
    expect(h.of('flash_completed', r.jobId)).toEqual([]);
    expect(end).toMatchObject({ code: 'image_mismatch', error: expect.stringMatching(/changed while it was being flashed \((it was written to|its size changed.*)\)/) });
    expect(h.station.job(r.jobId)?.sha256).toBeUndefined();
  });

  it.each(['raw', 'gzip'])('%s written to two devices at once (one read, shared): both jobs fail with image_mismatch', async (kind) => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 4 << 20 }));
    await h.provider.plug(h.device('DEV2', { speed: 4 << 20 }));
    const image = KINDS[kind]!.make(h.dir);
    const r = await h.station.startFlash({ deviceIds: ['DEV1', 'DEV2'], ...image.request });
    expect(r.jobIds).toHaveLength(2);
    await until(() => r.jobIds.every((id) => (h?.station.job(id)?.bytesTransferred ?? 0) > 1 << 20));
    image.rewrite();
    for (const id of r.jobIds) {
      expect(await h.waitFor('flash_failed', (m) => m.jobId === id)).toMatchObject({ code: 'image_mismatch' });
      expect(h.station.job(id)?.sha256).toBeUndefined();
    }
  });

  it('completes as before when the file stays as it was', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 16 << 20 }));
    const img = h.image('boot.img', 2 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    await until(() => h?.station.job(r.jobId)?.sha256 === img.sha256);
  });
});
