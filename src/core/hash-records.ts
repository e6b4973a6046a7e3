// Image hashes that finish after their job: written into history and onto the job when ready, awaited (bounded) at close.
import type { ServerMessage } from '../protocol/messages.js';
import type { History, ImageRecord } from './history.js';
import type { ActiveJob } from './job.js';

/** One image a completed job wrote, and the hash of it still to come (if any). */
export interface PendingImage {
  record: ImageRecord;
  /** The source's `sha256()`; absent when the record already holds its hash. */
  hash?: Promise<string>;
  /** The source's `hashStarted`: the hash settles without further reads (a worker runs, or the pass is done). */
  started: boolean;
}

export interface HashRecordsOptions {
  /** A started hash is awaited this long at most (a worker that hangs must not hold its record forever). */
  startedWaitMs?: number;
  /** A hash that was not started (its image was not read to the end) settles now or never: this long. */
  unstartedWaitMs?: number;
}

interface Follow {
  job: ActiveJob;
  images: PendingImage[];
  /** Hash or why there is none, per image; filled as they settle. */
  results: Array<{ sha256: string } | { why: string } | undefined>;
  settled: Promise<void>;
}

const STARTED_WAIT_MS = 10 * 60_000;
const UNSTARTED_WAIT_MS = 500;

/**
 * The record hash (SHA-256 of each expanded image) is not on a job's critical path: the job completes when the device
 * work is done, and the hash, usually a nice-10 worker thread still reading the file, lands in the job's history row
 * (`images_json`, `image_sha256`) and on the in-memory job when it is ready. One that fails, times out or is cut short
 * by the station closing leaves no hash (null, never a wrong value) and a warning in the job's log.
 */
export class HashRecords {
  private readonly pending = new Set<Follow>();
  private closed = false;
  private readonly startedWaitMs: number;
  private readonly unstartedWaitMs: number;

  constructor(
    private readonly history: History,
    private readonly emit: (message: ServerMessage) => void,
    options: HashRecordsOptions = {},
  ) {
    this.startedWaitMs = options.startedWaitMs ?? STARTED_WAIT_MS;
    this.unstartedWaitMs = options.unstartedWaitMs ?? UNSTARTED_WAIT_MS;
  }

  /** Hashes still being awaited (for tests and diagnostics). */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Record the hashes of a completed job's images as they arrive. Images whose hash has already settled are written
   * before this returns (the caller's history row then holds them); the rest follow later.
   */
  async follow(job: ActiveJob, images: PendingImage[]): Promise<void> {
    const results: Follow['results'] = images.map((img) => (img.record.sha256 !== undefined ? { sha256: img.record.sha256 } : undefined));
    // Hashes that are already done (an inline hash of a stream read to its end) are taken at once: every promise
    // settled by now has run its reactions before the next turn of the event loop.
    const now = new Promise<undefined>((r) => setImmediate(() => r(undefined)));
    await Promise.all(images.map(async (img, i) => {
      if (results[i] || !img.hash) return;
      results[i] = await Promise.race([img.hash.then((sha256) => ({ sha256 }), (e: unknown) => ({ why: failed(e) })), now]);
    }));
    const follow: Follow = { job, images, results, settled: Promise.resolve() };
    if (results.every((r, i) => r || !images[i]?.hash) || this.closed) {
      this.write(follow, true, 'the station was closing');
      return;
    }
    // The record as far as it is known now (the job completes with it); the hashes follow.
    this.write(follow, false);
    follow.settled = Promise.all(images.map(async (img, i) => {
      if (results[i] || !img.hash) return;
      const ms = img.started ? this.startedWaitMs : this.unstartedWaitMs;
      const why = img.started ? `it did not finish within ${Math.round(ms / 1000)} s` : 'the image was not read to its end';
      results[i] = await within(img.hash.then((sha256) => ({ sha256 }), (e: unknown) => ({ why: failed(e) })), ms, { why });
    })).then(() => {
      if (!this.pending.delete(follow)) return; // close() has written it already
      this.write(follow, true);
    });
    this.pending.add(follow);
  }

  /** Wait up to `ms` for the hashes still underway; write what is known and say which did not finish. */
  async close(ms: number): Promise<void> {
    this.closed = true;
    const all = [...this.pending];
    if (all.length) await within(Promise.all(all.map((f) => f.settled)).then(() => undefined), ms, undefined);
    for (const f of this.pending) {
      this.pending.delete(f);
      this.write(f, true, 'the station closed');
    }
  }

  /** Write the record as it stands; when `final`, also say in the job's log which image has no hash, and why. */
  private write(f: Follow, final: boolean, unfinished = 'the station stopped'): void {
    const { job, images, results } = f;
    const records = images.map((img, i) => {
      const r = results[i];
      const record: ImageRecord = { ...img.record };
      delete record.sha256;
      if (r && 'sha256' in r) record.sha256 = r.sha256;
      return record;
    });
    const only = records.length === 1 ? records[0]?.sha256 : undefined;
    if (only !== undefined) job.sha256 = only;
    try {
      this.history.update(job.jobId, { images_json: JSON.stringify(records), ...(only !== undefined ? { image_sha256: only } : {}) });
      if (!final) return;
      for (const [i, img] of images.entries()) {
        const r = results[i];
        if (r && 'sha256' in r) continue;
        const reason = r ? r.why : `${unfinished} before it was computed`;
        this.warn(job, `The SHA-256 of the ${img.record.partition} image is not recorded: ${reason}. The flash itself completed.`);
      }
    } catch {
      // The history database is gone (closed under us): nothing more can be recorded.
    }
  }

  private warn(job: ActiveJob, message: string): void {
    const ts = Date.now();
    this.history.log(job.jobId, ts, 'warn', message);
    this.emit({ type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level: 'warn', message, timestamp: ts });
  }
}

function failed(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return `hashing failed (${message})`;
}

/** `p`'s value, or `fallback` once `ms` pass or if `p` rejects (never an unhandled rejection). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
