// Bounded on-disk FIFO of MQTT event payloads: what the broker has not acknowledged survives a broker outage and a
// station restart; past the bound (entries or bytes) the oldest are dropped and counted, never the station's work.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface DiskQueueLimits {
  /** Entries kept at most (the oldest go first). */
  maxEntries: number;
  /** Payload bytes kept at most. */
  maxBytes: number;
}

export const DEFAULT_QUEUE_LIMITS: DiskQueueLimits = { maxEntries: 10_000, maxBytes: 50 * 1024 * 1024 };

export interface QueuedEvent {
  seq: number;
  payload: string;
}

interface Meta {
  /** Every entry up to this sequence number is consumed (acknowledged by the broker, or dropped). */
  consumed: number;
  /** Dropped entries not yet reported to the fleet. */
  unreported: number;
  droppedTotal: number;
}

const LOG = 'events.log';
const META = 'queue.json';
/** How often the consumed cursor reaches the disk; a crash in between resends up to this much (at least once). */
const META_EVERY_MS = 500;

/**
 * One line per entry, `SEQ PAYLOAD\n` (JSON payloads carry no raw newline), appended as events arrive; a small
 * meta file holds the consumed cursor. The file is rewritten with only the live entries once consumed lines dominate.
 * Entries are mirrored in memory (bounded by the same limits) so sending never reads the disk.
 */
export class DiskQueue {
  private entries: Array<QueuedEvent & { bytes: number }> = [];
  private head = 0;
  private liveBytes = 0;
  private nextSeq = 1;
  private fd: number;
  private fileLines = 0;
  private meta: Meta = { consumed: 0, unreported: 0, droppedTotal: 0 };
  private metaTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly dir: string, private readonly limits: DiskQueueLimits = DEFAULT_QUEUE_LIMITS) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.load();
    this.rewrite();
    this.fd = openSync(join(dir, LOG), 'a', 0o600);
  }

  get length(): number {
    return this.entries.length - this.head;
  }

  get bytes(): number {
    return this.liveBytes;
  }

  get droppedTotal(): number {
    return this.meta.droppedTotal;
  }

  /** Dropped entries the fleet has not been told about. */
  get unreported(): number {
    return this.meta.unreported;
  }

  /** Append one payload; drops the oldest entries while over a limit. Returns how many were dropped. */
  push(payload: string): number {
    if (this.closed) return 0;
    const seq = this.nextSeq++;
    const bytes = Buffer.byteLength(payload);
    writeSync(this.fd, `${seq} ${payload}\n`);
    this.fileLines++;
    this.entries.push({ seq, payload, bytes });
    this.liveBytes += bytes;
    let dropped = 0;
    while (this.length > 0 && (this.length > this.limits.maxEntries || this.liveBytes > this.limits.maxBytes)) {
      const first = this.entries[this.head];
      if (!first) break;
      this.consumeHead();
      dropped++;
    }
    if (dropped) {
      this.meta.unreported += dropped;
      this.meta.droppedTotal += dropped;
      this.scheduleMeta();
    }
    return dropped;
  }

  /** The entry `offset` places after the head, if any. */
  at(offset: number): QueuedEvent | undefined {
    return this.entries[this.head + offset];
  }

  /** Consume entries up to and including `seq` (they reached the broker). */
  ackThrough(seq: number): void {
    let moved = false;
    while (this.length > 0) {
      const first = this.entries[this.head];
      if (!first || first.seq > seq) break;
      this.consumeHead();
      moved = true;
    }
    if (moved) this.scheduleMeta();
  }

  /** The fleet was told about the drops. */
  reported(count: number): void {
    this.meta.unreported = Math.max(0, this.meta.unreported - count);
    this.scheduleMeta();
  }

  /** Persist the cursor and close the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.metaTimer) clearTimeout(this.metaTimer);
    this.writeMeta();
    closeSync(this.fd);
  }

  private consumeHead(): void {
    const first = this.entries[this.head];
    if (!first) return;
    this.liveBytes -= first.bytes;
    this.meta.consumed = first.seq;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    // Rewrite once consumed lines outnumber live ones (and are many): the file stays within about twice the bound.
    if (this.fileLines - this.length > Math.max(1000, this.length)) {
      closeSync(this.fd);
      this.rewrite();
      this.fd = openSync(join(this.dir, LOG), 'a', 0o600);
    }
  }

  private load(): void {
    const metaPath = join(this.dir, META);
    if (existsSync(metaPath)) {
      try {
        const m = JSON.parse(readFileSync(metaPath, 'utf8')) as Partial<Meta>;
        this.meta = {
          consumed: Number.isSafeInteger(m.consumed) ? (m.consumed as number) : 0,
          unreported: Number.isSafeInteger(m.unreported) ? (m.unreported as number) : 0,
          droppedTotal: Number.isSafeInteger(m.droppedTotal) ? (m.droppedTotal as number) : 0,
        };
      } catch {
        // A torn meta file: resend everything still in the log (at least once).
      }
    }
    const logPath = join(this.dir, LOG);
    if (!existsSync(logPath)) return;
    let last = this.meta.consumed;
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      const space = line.indexOf(' ');
      if (space <= 0) continue;
      const seq = Number(line.slice(0, space));
      // A line torn by a crash mid-write, or out of order: skip it.
      if (!Number.isSafeInteger(seq) || seq <= last) continue;
      const payload = line.slice(space + 1);
      try {
        JSON.parse(payload);
      } catch {
        continue;
      }
      last = seq;
      const bytes = Buffer.byteLength(payload);
      this.entries.push({ seq, payload, bytes });
      this.liveBytes += bytes;
    }
    this.nextSeq = last + 1;
    // The limits may have shrunk since the last run.
    let dropped = 0;
    while (this.length > 0 && (this.length > this.limits.maxEntries || this.liveBytes > this.limits.maxBytes)) {
      this.liveBytes -= this.entries[this.head]?.bytes ?? 0;
      this.meta.consumed = this.entries[this.head]?.seq ?? this.meta.consumed;
      this.head++;
      dropped++;
    }
    this.meta.unreported += dropped;
    this.meta.droppedTotal += dropped;
  }

  /** Replace the log with the live entries only (write a temporary file, then rename over). */
  private rewrite(): void {
    const live = this.entries.slice(this.head);
    this.entries = live;
    this.head = 0;
    const tmp = join(this.dir, `${LOG}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const chunk: string[] = [];
      for (const e of live) {
        chunk.push(`${e.seq} ${e.payload}\n`);
        if (chunk.length >= 512) writeSync(fd, chunk.splice(0).join(''));
      }
      if (chunk.length) writeSync(fd, chunk.join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, LOG));
    this.fileLines = live.length;
    this.writeMeta();
  }

  private scheduleMeta(): void {
    if (this.metaTimer || this.closed) return;
    this.metaTimer = setTimeout(() => {
      this.metaTimer = undefined;
      this.writeMeta();
    }, META_EVERY_MS);
    this.metaTimer.unref();
  }

  private writeMeta(): void {
    // A cursor that cannot be written (disk full, folder removed) costs resends after a restart, never the station.
    try {
      const tmp = join(this.dir, `${META}.tmp`);
      writeFileSync(tmp, JSON.stringify(this.meta), { mode: 0o600 });
      renameSync(tmp, join(this.dir, META));
    } catch {
      // Retried at the next acknowledgement.
    }
  }
}
