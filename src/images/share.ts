// Decode once, write many: one BlockSource read by several consumers through a bounded buffer.
import type { BlockSource, Chunk } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import type { SharedBlockSource } from './types.js';

export interface ShareOptions {
  /** Data bytes held between the slowest and the fastest consumer (default 32 MiB; at least one chunk). */
  bufferBytes?: number;
}

/**
 * `consumers` views of `source` that read it once. The fastest consumer may run ahead of the slowest by at most
 * `bufferBytes` of data; then it waits. A consumer that stops (abort, error, `release()`, or breaking out of its
 * loop) no longer holds the others back; when all have stopped, reading the source stops too. A consumer that never
 * starts does hold them back: call `release()` on it. Errors of the source reach every consumer still reading.
 */
export function shareSource(source: BlockSource, consumers: number, options: ShareOptions = {}): SharedBlockSource[] {
  if (!Number.isInteger(consumers) || consumers < 1) throw new FlashError('bad_request', 'shareSource needs at least one consumer');
  const limit = options.bufferBytes ?? 32 << 20;
  const buffer: { chunk: Chunk; cost: number }[] = [];
  let base = 0; // sequence number of buffer[0]
  let held = 0;
  const cursors = new Map<number, number>();
  for (let i = 0; i < consumers; i++) cursors.set(i, 0);
  const stop = new AbortController();
  let it: AsyncIterator<Chunk> | null = null;
  let producing: Promise<void> | null = null;
  let ended = false;
  let failure: Error | null = null;
  let waiters: (() => void)[] = [];

  const notify = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const trim = (): void => {
    let min = Number.POSITIVE_INFINITY;
    for (const c of cursors.values()) min = Math.min(min, c);
    if (min === Number.POSITIVE_INFINITY) min = base + buffer.length;
    while (base < min && buffer.length > 0) {
      held -= buffer.shift()?.cost ?? 0;
      base++;
    }
  };
  const release = (i: number): void => {
    if (!cursors.delete(i)) return;
    trim();
    if (cursors.size === 0 && !ended) {
      stop.abort();
      void it?.return?.().catch(() => undefined);
    }
    notify();
  };
  const pull = (): Promise<void> => {
    it ??= source.chunks(stop.signal)[Symbol.asyncIterator]();
    const iter = it;
    return iter.next().then(
      (r) => {
        if (r.done) ended = true;
        else {
          const cost = r.value.kind === 'data' ? r.value.bytes.length : 0;
          buffer.push({ chunk: r.value, cost });
          held += cost;
        }
      },
      (e: unknown) => {
        failure = e instanceof Error ? e : new Error(String(e));
      },
    ).finally(() => {
      producing = null;
      notify();
    });
  };
  const waitChange = (signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      const onAbort = (): void => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });

  const make = (i: number): SharedBlockSource => {
    let started = false;
    async function* read(signal?: AbortSignal): AsyncGenerator<Chunk> {
      try {
        for (;;) {
          if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
          const seq = cursors.get(i);
          if (seq === undefined) throw new FlashError('cancelled', 'this consumer was released');
          if (seq < base + buffer.length) {
            const entry = buffer[seq - base];
            cursors.set(i, seq + 1);
            trim();
            notify();
            if (entry) yield entry.chunk;
            continue;
          }
          if (failure) throw failure;
          if (ended) return;
          if (!producing && (held < limit || buffer.length === 0)) producing = pull();
          await (producing ?? waitChange(signal));
        }
      } finally {
        release(i);
      }
    }
    const view: SharedBlockSource = {
      size: source.size,
      get dataBytes() {
        return source.dataBytes;
      },
      get exact() {
        return source.exact;
      },
      description: source.description,
      blockSize: source.blockSize,
      reopenable: false,
      chunks(signal?: AbortSignal) {
        if (started) throw new FlashError('internal', `${source.description}: a shared view can be read only once`);
        started = true;
        return read(signal);
      },
      sha256: () => source.sha256(),
      get hashStarted() {
        return source.hashStarted;
      },
      release: () => release(i),
    };
    if (source.readAt) {
      const readAt = source.readAt;
      view.readAt = (offset, length, signal) => readAt.call(source, offset, length, signal);
    }
    // Each job checks the file it was written from is still the one opened (a batch as a single job does).
    if (source.unchanged) {
      const unchanged = source.unchanged;
      view.unchanged = () => unchanged.call(source);
    }
    return view;
  };
  return Array.from({ length: consumers }, (_, i) => make(i));
}
