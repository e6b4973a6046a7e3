// SHA-256 of an image file's expanded bytes in a worker thread, so the station's record hash runs on another core.
import { Worker } from 'node:worker_threads';

/** What the worker hashes, in order: `[0, fileOffset, length]` bytes of the file, `[1, word, length]` a fill. */
export type HashSegments = Float64Array;

/** Niceness of the hash thread (Linux applies it to the calling thread only). */
const WORKER_NICE = 10;

// Plain CommonJS for an eval'd worker: it must not depend on how (or whether) this module was bundled.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { path, segs } = workerData;
// Below the flash itself: on a busy machine the transfer (and a simulator on the same box) goes first.
try { require('node:os').setPriority(${WORKER_NICE}); } catch {}
const h = createHash('sha256');
const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(4 << 20);
const fills = new Map();
try {
  for (let i = 0; i + 2 < segs.length; i += 3) {
    const kind = segs[i], a = segs[i + 1], len = segs[i + 2];
    if (kind === 0) {
      for (let done = 0; done < len; ) {
        const got = readSync(fd, buf, 0, Math.min(buf.length, len - done), a + done);
        if (got === 0) throw new Error(path + ' is shorter than its image says (truncated at ' + (a + done) + ')');
        h.update(got === buf.length ? buf : buf.subarray(0, got));
        done += got;
      }
    } else {
      let block = fills.get(a);
      if (!block) {
        block = Buffer.alloc(1 << 20);
        for (let o = 0; o < block.length; o += 4) block.writeUInt32LE(a >>> 0, o);
        fills.set(a, block);
      }
      for (let done = 0; done < len; ) {
        const n = Math.min(block.length, len - done);
        h.update(n === block.length ? block : block.subarray(0, n));
        done += n;
      }
    }
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage(h.digest('hex'));
`;

/**
 * Hash `segments` of the file at `path` in a worker thread (the main thread keeps planning and sending; the hash
 * reads the file again, from the page cache). The worker does not keep the process alive.
 */
export function hashFileInWorker(path: string, segments: HashSegments): Promise<string> {
  return new Promise((resolve, reject) => {
    // No inherited execArgv: a station started with `--input-type=module` would run this CommonJS code as a module.
    const w = new Worker(WORKER_CODE, { eval: true, execArgv: [], workerData: { path, segs: segments } });
    w.unref();
    let settled = false;
    w.once('message', (hex: string) => {
      settled = true;
      resolve(hex);
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`the hash worker stopped (exit ${code})`));
    });
  });
}

/** Segments builder: merges adjacent pieces of the same kind (file ranges that continue, fills of one word). */
export class SegmentList {
  private parts: number[] = [];

  file(offset: number, length: number): void {
    if (length <= 0) return;
    const n = this.parts.length;
    if (n >= 3 && this.parts[n - 3] === 0 && (this.parts[n - 2] ?? 0) + (this.parts[n - 1] ?? 0) === offset) {
      this.parts[n - 1] = (this.parts[n - 1] ?? 0) + length;
    } else this.parts.push(0, offset, length);
  }

  fill(value: number, length: number): void {
    if (length <= 0) return;
    const n = this.parts.length;
    if (n >= 3 && this.parts[n - 3] === 1 && this.parts[n - 2] === value >>> 0) {
      this.parts[n - 1] = (this.parts[n - 1] ?? 0) + length;
    } else this.parts.push(1, value >>> 0, length);
  }

  done(): HashSegments {
    return Float64Array.from(this.parts);
  }
}
