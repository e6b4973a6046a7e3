// Writing disks without root: the station (running as the desktop user) elevates one small helper per write batch
// with pkexec and drives it over a pipe (block-helper-protocol.ts). The helper gets only whole-disk paths on its
// command line and image bytes on stdin; the station keeps the decoding, the write order and the read-back.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { BlockIo } from '../contracts/links.js';
import { FlashError } from '../contracts/errors.js';
import { blockError, mayWrite, privilegeHint } from './block-io.js';
import {
  encodeRequest, HelperDecoder, HELPER_MAX_DEVICES, HELPER_MAX_IO,
  type HelperDeviceHello, type HelperOp, type HelperReply,
} from './block-helper-protocol.js';

/** Where the .deb installs the helper (root-owned; the polkit action's exec.path names it). */
export const BLOCK_HELPER_PATH = '/usr/lib/flash-station/flash-station-block-helper';
/** pkexec by absolute path: PATH is the user's to change. */
export const PKEXEC = '/usr/bin/pkexec';

/** Where the .deb installs the polkit action io.flashstation.block.write (build/linux/io.flashstation.block.policy). */
export const POLKIT_ACTION_FILE = '/usr/share/polkit-1/actions/io.flashstation.block.policy';

export interface HelperCommand {
  file: string;
  args: string[];
}

/**
 * The command that runs the helper for these disks: the helper itself when already root, else pkexec, which asks
 * polkit for io.flashstation.block.write (the desktop's agent shows the password dialog). No shell is involved.
 */
export function helperCommand(helper: string, devices: readonly string[], uid: number | undefined = process.getuid?.()): HelperCommand {
  if (!isAbsolute(helper)) throw new FlashError('internal', `the block helper must be named by an absolute path, not ${helper}`);
  if (devices.length < 1 || devices.length > HELPER_MAX_DEVICES) throw new FlashError('internal', `a helper takes 1 to ${HELPER_MAX_DEVICES} disks`);
  for (const d of devices) {
    if (!/^\/dev\/[A-Za-z0-9._/-]+$/.test(d) || d.includes('/../')) throw new FlashError('bad_request', `${d} is not a device path under /dev`);
  }
  // --disable-internal-agent: never prompt on a terminal (stdin is the data pipe); only the desktop's agent asks.
  return uid === 0 ? { file: helper, args: [...devices] } : { file: PKEXEC, args: ['--disable-internal-agent', helper, ...devices] };
}

/** The installed helper, when it is there and root-owned (else the desktop app cannot elevate). */
export function installedBlockHelper(path = BLOCK_HELPER_PATH): string | undefined {
  try {
    const st = statSync(path);
    accessSync(path, constants.X_OK);
    return st.isFile() && st.uid === 0 && (st.mode & 0o022) === 0 ? path : undefined;
  } catch {
    return undefined;
  }
}

export type WriteAccess = 'direct' | 'helper';

/**
 * How this station may write a disk: directly as root or when the node is writable (the `disk` group); else through
 * the helper when the desktop app set one up; else a permission error saying what to do.
 */
export function chooseWriteAccess(o: { path: string; uid: number | undefined; writable: boolean; helper: boolean }): WriteAccess {
  if (o.uid === 0 || o.writable) return 'direct';
  if (o.helper) return 'helper';
  throw new FlashError('permission_denied', `cannot write ${o.path}: ${privilegeHint()}`);
}

/** chooseWriteAccess for this process and the disk at `path`. */
export async function writeAccess(path: string, helper: boolean): Promise<WriteAccess> {
  return chooseWriteAccess({ path, uid: process.getuid?.(), writable: await mayWrite(path), helper });
}

function errnoError(result: number, path: string, op: string): FlashError {
  const name = Object.entries(osConstants.errno).find(([, v]) => v === -result)?.[0] ?? `errno ${-result}`;
  return blockError(Object.assign(new Error(`${op}: ${name} (in the block helper)`), { code: name }), path, op);
}

/**
 * pkexec ended before the helper said hello: 126 is a dismissed password dialog; 127 is polkit's no, said with its
 * cause (pkexec's stderr tells a daemon that does not answer and a missing agent; a missing action file is looked up).
 */
export function pkexecRefusal(code: 126 | 127, stderr: string, actionInstalled = existsSync(POLKIT_ACTION_FILE)): FlashError {
  if (code === 126) return new FlashError('permission_denied', 'writing the disk needs an administrator\'s password, and the request was dismissed: flash again and enter it');
  const said = stderr.replace(/\s+/g, ' ').trim();
  const pkexecSaid = said ? ` (pkexec: ${said})` : '';
  const orRoot = 'or run the station as root or as a member of the "disk" group';
  let why: string;
  if (/Error getting authority|Could not connect/i.test(said)) {
    why = `polkit's daemon does not answer on the system bus${pkexecSaid}: start polkitd (Debian package polkitd) and the system D-Bus, ${orRoot}`;
  } else if (!actionInstalled) {
    why = `the polkit action io.flashstation.block.write is not installed (${POLKIT_ACTION_FILE} is missing)${pkexecSaid}: reinstall the Flash Station .deb, ${orRoot}`;
  } else if (/No authentication agent/i.test(said)) {
    why = `no polkit authentication agent is running to ask for an administrator's password (a desktop session has one; SSH and containers do not)${pkexecSaid}: ${orRoot}, or have an administrator allow it with a polkit rule (docs/block.md)`;
  } else {
    why = `polkit did not allow writing disks (action io.flashstation.block.write)${pkexecSaid || ': not authorized'}: ask an administrator to allow it with a polkit rule (docs/block.md), ${orRoot}`;
  }
  return new FlashError('permission_denied', why);
}

type Spawn = (file: string, args: string[]) => ChildProcess;
/** How the station starts pkexec or the helper: pipes for the protocol and stderr, and no environment to pass on. */
export const spawnHelper: Spawn = (file, args) => spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: {} });

/** One running helper: its hello, and requests matched with replies by id. */
export class HelperSession {
  readonly ready: Promise<HelperDeviceHello[]>;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve(r: HelperReply): void; reject(e: Error): void; into?: Uint8Array }>();
  private readonly open = new Set<number>();
  private nextId = 1;
  private ended: FlashError | undefined;
  private stderr = '';

  constructor(readonly command: HelperCommand, readonly paths: readonly string[], spawnFn: Spawn = spawnHelper) {
    // A read's data goes straight into the reader's buffer.
    const decoder = new HelperDecoder(paths.length, (id) => this.pending.get(id)?.into);
    this.child = spawnFn(command.file, command.args);
    let onHello!: (h: HelperDeviceHello[]) => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      onHello = resolve;
      onFail = reject;
    });
    this.ready.catch(() => undefined);
    let helloSeen = false;
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    this.child.stdin?.on('error', () => undefined); // EPIPE when the helper is gone: its exit says why
    this.child.stdout?.on('data', (d: Buffer) => {
      let got;
      try {
        got = decoder.push(d);
      } catch (e) {
        this.fail(e as FlashError);
        onFail(e as FlashError);
        this.child.kill();
        return;
      }
      if (got.hello) {
        helloSeen = true;
        got.hello.forEach((h, i) => h.status === 0 && this.open.add(i));
        onHello(got.hello);
      }
      for (const r of got.replies) {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        p?.resolve(r);
      }
    });
    this.child.on('error', (e: NodeJS.ErrnoException) => {
      const err = e.code === 'ENOENT'
        ? new FlashError('unsupported', `${command.file} is not installed: writing disks as a desktop user needs polkit's pkexec (Debian package pkexec) and the helper the .deb installs`, { cause: e })
        : new FlashError('device_error', `the block helper could not start: ${e.message}`, { cause: e });
      this.fail(err);
      onFail(err);
    });
    this.child.on('close', (code, sig) => {
      const why = this.stderr.trim();
      let err: FlashError;
      if (!helloSeen && command.file === PKEXEC && (code === 126 || code === 127)) {
        err = pkexecRefusal(code, why);
      } else {
        err = new FlashError('device_error', `the block helper ended (${sig ?? `exit ${code}`})${why ? `: ${why}` : ''}`, { transient: false });
      }
      this.fail(err);
      onFail(err);
    });
  }

  private fail(err: FlashError): void {
    this.ended ??= err;
    for (const p of this.pending.values()) p.reject(this.ended);
    this.pending.clear();
  }

  /** One request; `into` receives a read's data (else the reply carries a new buffer). */
  request(device: number, op: HelperOp, offset: number, length: number, data?: Uint8Array, into?: Uint8Array): Promise<HelperReply> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++ >>> 0;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(into ? { into } : {}) });
      const stdin = this.child.stdin;
      if (!stdin) return reject(new FlashError('internal', 'the block helper has no input pipe'));
      stdin.write(encodeRequest({ op, device, id, offset, length }));
      if (data && data.length) stdin.write(data);
    });
  }

  /** Close one device; the helper ends once every device it opened is closed. */
  async closeDevice(device: number): Promise<void> {
    if (!this.open.delete(device)) return;
    await this.request(device, 'C', 0, 0).catch(() => undefined);
    if (this.open.size === 0) this.child.stdin?.end();
  }
}

/** A disk opened by the helper, as the writer and the read-back see any disk. */
export class HelperBlockIo implements BlockIo {
  readonly direct = true;
  private closed = false;

  constructor(
    private readonly session: HelperSession,
    private readonly device: number,
    readonly path: string,
    readonly size: number,
    readonly sectorSize: number,
  ) {}

  alloc(length: number): Uint8Array {
    return Buffer.alloc(length);
  }

  private check(offset: number, length: number, op: string): void {
    if (this.closed) throw new FlashError('internal', `${this.path}: ${op} after close`);
    if (offset < 0 || offset + length > this.size) {
      throw new FlashError('image_too_large', `${op} of ${length} bytes at ${offset} lies beyond the end of ${this.path} (${this.size} bytes)`);
    }
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0) {
      throw new FlashError('internal', `${op} at ${offset} of ${length} bytes is not aligned to ${this.sectorSize}-byte sectors (direct I/O)`);
    }
  }

  private async call(op: HelperOp, offset: number, length: number, what: string, data?: Uint8Array, into?: Uint8Array): Promise<HelperReply> {
    const r = await this.session.request(this.device, op, offset, length, data, into);
    if (r.result < 0) throw errnoError(r.result, this.path, what);
    return r;
  }

  async write(offset: number, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.check(offset, data.length, 'write');
    for (let at = 0; at < data.length; at += HELPER_MAX_IO) {
      const part = data.subarray(at, Math.min(data.length, at + HELPER_MAX_IO));
      await this.call('W', offset + at, part.length, `write at byte ${offset + at}`, part);
    }
  }

  async read(offset: number, into: Uint8Array, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    this.check(offset, into.length, 'read');
    let done = 0;
    while (done < into.length) {
      const n = Math.min(HELPER_MAX_IO, into.length - done);
      const part = into.subarray(done, done + n);
      const r = await this.call('R', offset + done, n, `read at byte ${offset + done}`, undefined, part);
      if (r.data && r.data.buffer !== part.buffer) part.set(r.data.subarray(0, n));
      done += r.data?.length ?? 0;
      if ((r.data?.length ?? 0) < n) break;
    }
    return done;
  }

  async zeroOut(offset: number, length: number, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    if (length === 0) return true;
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0 || offset + length > this.size) return false;
    const r = await this.session.request(this.device, 'Z', offset, length);
    return r.result === 0;
  }

  async sync(): Promise<void> {
    await this.call('S', 0, 0, 'flush (fsync)');
  }

  async rereadPartitions(): Promise<boolean> {
    const r = await this.session.request(this.device, 'P', 0, 0).catch(() => undefined);
    return r?.result === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.closeDevice(this.device);
  }
}

export interface HelperPoolOptions {
  /** How long the first open of a batch waits for the others (the jobs of one start_flash open within it). */
  windowMs?: number;
  uid?: number;
  spawn?: Spawn;
}

interface Waiting {
  path: string;
  resolve(io: HelperBlockIo): void;
  reject(e: unknown): void;
}

/**
 * Opens disks through the helper, one helper (one password prompt) per batch: opens that arrive within `windowMs` of
 * the first share one helper process.
 */
export class HelperPool {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly helper: string, private readonly o: HelperPoolOptions = {}) {}

  open(path: string, signal?: AbortSignal): Promise<HelperBlockIo> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const w: Waiting = { path, resolve, reject };
      this.waiting.push(w);
      this.timer ??= setTimeout(() => this.flush(), this.o.windowMs ?? 400);
      // Cancelled while waiting for its batch: it leaves the batch (once the helper runs, the job closes what opened).
      signal?.addEventListener('abort', () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new FlashError('cancelled', 'Cancelled'));
        }
      }, { once: true });
    });
  }

  private flush(): void {
    this.timer = undefined;
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of this.waiting) {
      if (batch.length < HELPER_MAX_DEVICES && !batch.some((b) => b.path === w.path)) batch.push(w);
      else rest.push(w);
    }
    this.waiting = rest;
    if (rest.length) this.timer = setTimeout(() => this.flush(), 0);
    if (!batch.length) return;
    const paths = batch.map((b) => b.path);
    let session: HelperSession;
    try {
      session = new HelperSession(helperCommand(this.helper, paths, this.o.uid), paths, this.o.spawn);
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    session.ready.then(
      (hello) => {
        batch.forEach((b, i) => {
          const h = hello[i] as HelperDeviceHello;
          if (h.status !== 0) b.reject(errnoError(h.status, b.path, 'open for writing (block helper)'));
          else b.resolve(new HelperBlockIo(session, i, b.path, h.size, h.sectorSize));
        });
      },
      (e: unknown) => {
        for (const b of batch) b.reject(e);
      },
    );
  }
}
