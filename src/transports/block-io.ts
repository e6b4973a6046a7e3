// Positional block I/O on a disk (or a regular file standing in for one): O_DIRECT | O_EXCL, ioctls through koffi.
import { constants, readFileSync } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import type { BlockIo, BlockLink } from '../contracts/links.js';
import { FlashError } from '../contracts/errors.js';

const require = createRequire(import.meta.url);

// Linux <linux/fs.h>: _IO(0x12, n) and _IOR(0x12, 114, size_t).
const BLKRRPART = 0x125f;
const BLKSSZGET = 0x1268;
const BLKGETSIZE64 = 0x80081272;
const BLKZEROOUT = 0x127f;

/** Buffers for direct I/O are aligned to at least a page (covers 512 and 4096-byte sectors). */
const ALIGN = 4096;
/** One BLKZEROOUT call covers at most this much, so a slow device never holds a thread-pool thread for long. */
const ZERO_OUT_STEP = 64 << 20;

interface AsyncCall {
  async(...args: unknown[]): void;
}
interface Native {
  /** ioctl with a pointer argument (sync: errno is readable afterwards). */
  ioctlPtr: ((fd: number, req: number, arg: Uint8Array | Int32Array | BigUint64Array) => number) & AsyncCall;
  ioctlInt: ((fd: number, req: number, arg: number) => number) & AsyncCall;
  errno(): number;
  /** The address of a buffer's first byte (libc `memmove(p, p, 0)` returns its first argument). */
  address(b: Uint8Array): bigint;
}

let native: Native | null | undefined;

/** libc through koffi on Linux; null elsewhere or when koffi cannot load (then: no ioctls, no O_DIRECT). */
function loadNative(): Native | null {
  if (native !== undefined) return native;
  native = null;
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return null;
  try {
    const koffi = require('koffi') as {
      load(path: string): { func(signature: string): ((...args: unknown[]) => unknown) & AsyncCall };
      errno(): number;
    };
    const libc = koffi.load('libc.so.6');
    // ioctl is variadic; on x86-64 and arm64 Linux a fixed third argument is passed the same way, and only a
    // fixed prototype can be called asynchronously (koffi has no async variadic calls).
    const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)');
    const ioctlInt = libc.func('int ioctl(int fd, unsigned long req, long arg)');
    const memmove = libc.func('uintptr_t memmove(void *dst, const void *src, size_t n)');
    native = {
      ioctlPtr: ioctlPtr as Native['ioctlPtr'],
      ioctlInt: ioctlInt as Native['ioctlInt'],
      errno: () => koffi.errno(),
      address: (b) => BigInt(memmove(b, b, 0) as number | bigint),
    };
  } catch {
    native = null;
  }
  return native;
}

function callAsync(fn: AsyncCall, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, res: unknown) =>
      err ? reject(err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err))) : resolve(Number(res)),
    );
  });
}

/** Who this process is, for a permission error that says what is missing. */
export function privilegeHint(): string {
  const uid = process.getuid?.();
  if (uid === undefined) return 'writing a raw disk needs administrator rights';
  if (uid === 0) return 'the station runs as root, so something else refuses (a read-only device or a security module)';
  let diskGid: number | undefined;
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('disk:'));
    diskGid = line ? Number(line.split(':')[2]) : undefined;
  } catch {
    diskGid = undefined;
  }
  const inDisk = diskGid !== undefined && (process.getgroups?.() ?? []).includes(diskGid);
  return inDisk
    ? `the station runs as uid ${uid} in group "disk", but the device node does not grant the group write access`
    : `writing a raw disk needs root or membership of the "disk" group, and this station runs as uid ${uid} without either: ` +
      'run it as root, add the user to "disk" (usermod -aG disk USER, then log in again), or use the desktop app, which asks for rights per write';
}

/** A system error of an operation on `path` as a FlashError a technician can act on. */
export function blockError(e: unknown, path: string, op: string): FlashError {
  if (e instanceof FlashError) return e;
  const err = e as NodeJS.ErrnoException;
  const msg = err.message ?? String(e);
  switch (err.code) {
    case 'EBUSY':
      return new FlashError('device_busy',
        `${path} is in use: a partition of it is still mounted, or another program holds it open exclusively — unmount it (or close that program) and retry`,
        { cause: e, detail: `${op}: ${msg}` });
    case 'EACCES':
    case 'EPERM':
      return new FlashError('permission_denied', `cannot ${op} ${path}: permission denied — ${privilegeHint()}`, { cause: e, detail: msg });
    case 'EROFS':
      return new FlashError('device_rejected', `${path} is read-only (a card's lock switch, or a write-protected stick) — unlock it and retry`, { cause: e, detail: msg });
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
    case 'ENOMEDIUM':
      return new FlashError('disconnected', `${path} is gone (${op}): the disk was removed or its reader disconnected — plug it in again and retry`, { cause: e, detail: msg, transient: true });
    case 'ENOSPC':
      return new FlashError('image_too_large', `${op} on ${path} ran past the end of the disk`, { cause: e, detail: msg });
    case 'EIO':
    case 'ETIMEDOUT':
      return new FlashError('device_error', `${op} on ${path} failed with an I/O error: the card or its reader may be failing`, { cause: e, detail: msg, transient: true });
    default:
      return new FlashError('device_error', `${op} on ${path} failed: ${msg}`, { cause: e, detail: err.code ?? msg, transient: true });
  }
}

export interface BlockOpenOptions {
  write: boolean;
  /** O_DIRECT (default true): bypass the page cache; falls back to buffered I/O where the file system refuses it. */
  direct?: boolean;
  /** O_EXCL on a block device (default true): fails while any partition of it is mounted or held by another opener. */
  exclusive?: boolean;
}

/** An open disk or file: the contract's BlockIo plus what this implementation can do besides. */
export class BlockDeviceIo implements BlockIo {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
    readonly sectorSize: number,
    readonly direct: boolean,
    /** A block device (ioctls apply), not a regular file. */
    readonly isDevice: boolean,
    private readonly nat: Native | null,
  ) {}

  static async open(path: string, o: BlockOpenOptions, signal?: AbortSignal): Promise<BlockDeviceIo> {
    signal?.throwIfAborted();
    const st = await stat(path).catch((e: unknown) => {
      throw blockError(e, path, 'open');
    });
    const isDevice = st.isBlockDevice();
    if (!isDevice && !st.isFile()) throw new FlashError('device_rejected', `${path} is neither a disk nor a regular file`);
    const nat = loadNative();
    const wantDirect = (o.direct ?? true) && nat !== null && constants.O_DIRECT !== undefined;
    const base = (o.write ? constants.O_RDWR : constants.O_RDONLY) | (isDevice && (o.exclusive ?? true) ? constants.O_EXCL : 0);
    let fh: FileHandle;
    let direct = wantDirect;
    try {
      fh = await open(path, base | (wantDirect ? constants.O_DIRECT : 0));
    } catch (e) {
      if (!wantDirect || (e as NodeJS.ErrnoException).code !== 'EINVAL') throw blockError(e, path, o.write ? 'open for writing' : 'open');
      direct = false; // a file system without direct I/O (tmpfs before Linux 6.6): buffered, with fsync
      fh = await open(path, base).catch((e2: unknown) => {
        throw blockError(e2, path, o.write ? 'open for writing' : 'open');
      });
    }
    try {
      let size = st.size;
      let sectorSize = 512;
      if (isDevice) {
        if (!nat) throw new FlashError('unsupported', `${path}: raw disks can be written only on Linux here (koffi and libc are needed for the disk's size)`);
        const ss = new Int32Array(1);
        const sz = new BigUint64Array(1);
        if (nat.ioctlPtr(fh.fd, BLKSSZGET, ss) !== 0 || nat.ioctlPtr(fh.fd, BLKGETSIZE64, sz) !== 0) {
          throw blockError(Object.assign(new Error(`ioctl errno ${nat.errno()}`), { code: errnoName(nat.errno()) }), path, 'ask the size of');
        }
        sectorSize = ss[0] ?? 512;
        size = Number(sz[0] ?? 0n);
      }
      return new BlockDeviceIo(path, fh, size, sectorSize, direct, isDevice, nat);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  alloc(length: number): Uint8Array {
    const raw = Buffer.allocUnsafeSlow(length + ALIGN);
    if (!this.nat) return raw.subarray(0, length);
    const addr = this.nat.address(raw);
    const skip = Number((BigInt(ALIGN) - (addr % BigInt(ALIGN))) % BigInt(ALIGN));
    return raw.subarray(skip, skip + length);
  }

  private check(offset: number, b: Uint8Array, op: string): void {
    if (this.closed) throw new FlashError('internal', `${this.path}: ${op} after close`);
    if (offset < 0 || offset + b.length > this.size) {
      throw new FlashError('image_too_large', `${op} of ${b.length} bytes at ${offset} lies beyond the end of ${this.path} (${this.size} bytes)`);
    }
    if (this.direct) {
      const s = this.sectorSize;
      const addr = this.nat ? Number(this.nat.address(b) % BigInt(s)) : 0;
      if (offset % s !== 0 || b.length % s !== 0 || addr !== 0) {
        throw new FlashError('internal', `${op} at ${offset} of ${b.length} bytes is not aligned to ${s}-byte sectors (direct I/O)`);
      }
    }
  }

  async write(offset: number, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.check(offset, data, 'write');
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done).catch((e: unknown) => {
        throw blockError(e, this.path, `write at byte ${offset + done}`);
      });
      if (bytesWritten <= 0) throw new FlashError('device_error', `${this.path} accepted no bytes at ${offset + done}`, { transient: true });
      done += bytesWritten;
    }
  }

  async read(offset: number, into: Uint8Array, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    this.check(offset, into, 'read');
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await this.fh.read(into, done, into.length - done, offset + done).catch((e: unknown) => {
        throw blockError(e, this.path, `read at byte ${offset + done}`);
      });
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  /**
   * Make [offset, offset + length) read as zeros the fastest way the device knows (BLKZEROOUT: WRITE ZEROES, or the
   * kernel writing its zero page). False when it cannot (a regular file, no koffi, the ioctl failed): write zeros then.
   */
  async zeroOut(offset: number, length: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.isDevice || !this.nat || length === 0) return length === 0;
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0 || offset + length > this.size) return false;
    for (let at = offset; at < offset + length; at += ZERO_OUT_STEP) {
      signal?.throwIfAborted();
      const range = new BigUint64Array([BigInt(at), BigInt(Math.min(ZERO_OUT_STEP, offset + length - at))]);
      if ((await callAsync(this.nat.ioctlPtr, this.fh.fd, BLKZEROOUT, range)) !== 0) return false;
    }
    return true;
  }

  async sync(): Promise<void> {
    await this.fh.sync().catch((e: unknown) => {
      throw blockError(e, this.path, 'flush (fsync)');
    });
  }

  async rereadPartitions(): Promise<boolean> {
    if (!this.isDevice || !this.nat) return false;
    return (await callAsync(this.nat.ioctlInt, this.fh.fd, BLKRRPART, 0)) === 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(osConstants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** Opens a disk with rights this process lacks (the desktop app's pkexec helper, src/transports/block-helper.ts). */
export interface Elevation {
  open(path: string, signal?: AbortSignal): Promise<BlockIo>;
}

/** Whether this process may write `path` itself: root, or a writable node (the `disk` group). */
export async function mayWrite(path: string): Promise<boolean> {
  if (process.getuid?.() === 0) return true;
  return access(path, constants.W_OK).then(() => true, () => false);
}

/**
 * A BlockLink to the disk (or file) at `path`: each open() is a fresh handle; close() closes what it opened. With an
 * `elevation`, opening a disk this process may not write goes through it (reads too: a verify step after a flash).
 * `canWrite` decides that (default `mayWrite`; tests and benches running as root pass `async () => false` to go through
 * the helper as a desktop user's station does).
 */
export function createBlockLink(path: string, elevation?: Elevation, canWrite: (path: string) => Promise<boolean> = mayWrite): BlockLink & { readonly path: string; readonly elevated: boolean } {
  const open = new Set<BlockIo>();
  return {
    kind: 'block',
    path,
    elevated: elevation !== undefined,
    async open(options, signal) {
      const io: BlockIo = elevation && !(await canWrite(path))
        ? await elevation.open(path, signal)
        : await BlockDeviceIo.open(path, options, signal);
      open.add(io);
      const close = io.close.bind(io);
      io.close = async () => {
        open.delete(io);
        await close();
      };
      return io;
    },
    async close() {
      await Promise.all([...open].map((io) => io.close()));
    },
  };
}
