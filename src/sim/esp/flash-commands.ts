// The flash side of the loader: plain and compressed writes, erase, MD5 and the stub's READ_FLASH stream.
import { constants, createInflate, type Inflate } from 'node:zlib';
import { md5, OP, ROM_ERR, STUB_ERR, u32le } from './commands.js';
import { SECTOR, type FlashStore } from './flash-store.js';

export interface CommandResult {
  error?: { rom: number; stub: number };
  data?: Uint8Array;
  /** FLASH_END / FLASH_DEFL_END asked to leave the loader and run the application. */
  runUserCode?: boolean;
  /** Runs after the response went out (READ_FLASH starts its stream). */
  after?: () => void;
}

const FAILED = { rom: ROM_ERR.FAILED, stub: STUB_ERR.FAILED_SPI_OP };
const BAD_LEN = { rom: ROM_ERR.INVALID_MESSAGE, stub: STUB_ERR.BAD_DATA_LEN };

interface Session {
  kind: 'raw' | 'defl';
  offset: number;
  blockSize: number;
  /** Bytes this session may write (the erased area). */
  limit: number;
  written: number;
  inflate?: Inflate;
  pending: Buffer[];
}

interface ReadStream {
  offset: number;
  size: number;
  packet: number;
  inFlight: number;
  sent: number;
  acked: number;
}

export class FlashCommands {
  private session: Session | undefined;
  private readStream: ReadStream | undefined;

  constructor(
    private readonly flash: FlashStore,
    private readonly send: (frame: Uint8Array) => void,
  ) {}

  get reading(): boolean {
    return this.readStream !== undefined;
  }

  abort(): void {
    this.session?.inflate?.destroy();
    this.session = undefined;
    this.readStream = undefined;
  }

  async handle(op: number, data: Uint8Array, stub: boolean): Promise<CommandResult> {
    switch (op) {
      case OP.FLASH_BEGIN:
      case OP.FLASH_DEFL_BEGIN:
        return this.begin(op, data, stub);
      case OP.FLASH_DATA:
        return this.rawData(data);
      case OP.FLASH_DEFL_DATA:
        return this.deflData(data);
      case OP.FLASH_END:
      case OP.FLASH_DEFL_END:
        return this.end(op, data);
      case OP.SPI_FLASH_MD5:
        return this.md5(data, stub);
      case OP.ERASE_FLASH:
        this.abort();
        await this.flash.erase(0, this.flash.size);
        return {};
      case OP.ERASE_REGION: {
        const offset = u32le(data, 0);
        const size = u32le(data, 4);
        if (offset % SECTOR || size % SECTOR) return { error: BAD_LEN };
        if (offset + size > this.flash.size) return { error: FAILED };
        await this.flash.erase(offset, size);
        return {};
      }
      case OP.READ_FLASH:
        return this.startRead(data);
      default:
        return { error: { rom: ROM_ERR.INVALID_MESSAGE, stub: STUB_ERR.CMD_NOT_IMPLEMENTED } };
    }
  }

  private async begin(op: number, data: Uint8Array, stub: boolean): Promise<CommandResult> {
    if (data.length < 16) return { error: BAD_LEN };
    this.abort();
    const size = u32le(data, 0);
    const blockSize = u32le(data, 8);
    const offset = u32le(data, 12);
    if (offset + size > this.flash.size || blockSize === 0 || blockSize > 0x10000) return { error: FAILED };
    await this.flash.erase(offset, size);
    const kind = op === OP.FLASH_BEGIN ? 'raw' : 'defl';
    // The ROM erases and may write whole blocks; the stub's size is the exact uncompressed length.
    const limit = kind === 'raw' || !stub ? Math.max(size, u32le(data, 4) * blockSize) : size;
    this.session = { kind, offset, blockSize, limit, written: 0, pending: [] };
    if (kind === 'defl') {
      const inflate = createInflate();
      inflate.on('data', (chunk: Buffer) => this.session?.pending.push(chunk));
      inflate.on('error', () => undefined);
      this.session.inflate = inflate;
    }
    return {};
  }

  private async rawData(data: Uint8Array): Promise<CommandResult> {
    const s = this.session;
    if (!s || s.kind !== 'raw') return { error: { rom: ROM_ERR.FAILED, stub: STUB_ERR.NOT_IN_FLASH_MODE } };
    const size = u32le(data, 0);
    const seq = u32le(data, 4);
    const payload = data.subarray(16);
    if (payload.length !== size || size > s.blockSize) return { error: BAD_LEN };
    await this.flash.write(s.offset + seq * s.blockSize, payload);
    s.written = Math.max(s.written, seq * s.blockSize + size);
    return {};
  }

  private async deflData(data: Uint8Array): Promise<CommandResult> {
    const s = this.session;
    const inflate = s?.inflate;
    if (!s || !inflate) return { error: { rom: ROM_ERR.FAILED, stub: STUB_ERR.NOT_IN_FLASH_MODE } };
    const payload = data.subarray(16);
    if (payload.length !== u32le(data, 0)) return { error: BAD_LEN };
    try {
      await feed(inflate, payload);
    } catch {
      this.abort();
      return { error: { rom: ROM_ERR.DEFLATE, stub: STUB_ERR.INFLATE_ERROR } };
    }
    for (const chunk of s.pending.splice(0)) {
      if (s.written + chunk.length > s.limit) {
        this.abort();
        return { error: { rom: ROM_ERR.DEFLATE, stub: STUB_ERR.TOO_MUCH_DATA } };
      }
      await this.flash.write(s.offset + s.written, chunk);
      s.written += chunk.length;
    }
    return {};
  }

  private end(op: number, data: Uint8Array): CommandResult {
    const s = this.session;
    const kind = op === OP.FLASH_END ? 'raw' : 'defl';
    // FLASH_END without a session is how esptool asks the ROM to run the application ("soft reset").
    if (s && s.kind !== kind) return { error: { rom: ROM_ERR.FAILED, stub: STUB_ERR.NOT_IN_FLASH_MODE } };
    s?.inflate?.end();
    this.session = undefined;
    return { runUserCode: u32le(data, 0) === 0 };
  }

  private md5(data: Uint8Array, stub: boolean): CommandResult {
    const offset = u32le(data, 0);
    const size = u32le(data, 4);
    if (offset + size > this.flash.size) return { error: { rom: ROM_ERR.FLASH_READ, stub: STUB_ERR.FAILED_SPI_OP } };
    const digest = md5(this.flash.read(offset, size));
    // The ROM answers in 32 hex digits, the stub in 16 raw bytes.
    return { data: stub ? digest : new TextEncoder().encode(Buffer.from(digest).toString('hex')) };
  }

  private startRead(data: Uint8Array): CommandResult {
    const offset = u32le(data, 0);
    const size = u32le(data, 4);
    const packet = u32le(data, 8);
    const inFlight = u32le(data, 12);
    if (offset + size > this.flash.size) return { error: FAILED };
    if (packet === 0 || packet > 0x4000 || inFlight === 0) return { error: BAD_LEN };
    this.readStream = { offset, size, packet, inFlight, sent: 0, acked: 0 };
    return { after: () => this.pump() };
  }

  /** Send packets while fewer than `inFlight` are unacknowledged; the digest follows the last acknowledgement. */
  private pump(): void {
    const r = this.readStream;
    if (!r) return;
    while (r.sent < r.size && r.sent - r.acked < r.inFlight * r.packet) {
      const n = Math.min(r.packet, r.size - r.sent);
      this.send(this.flash.read(r.offset + r.sent, n).slice());
      r.sent += n;
    }
    if (r.acked >= r.size) {
      this.readStream = undefined;
      this.send(md5(this.flash.read(r.offset, r.size)));
    }
  }

  /** A 4-byte frame from the host during READ_FLASH: bytes it has received so far. */
  ack(frame: Uint8Array): void {
    const r = this.readStream;
    if (!r || frame.length !== 4) return;
    r.acked = Math.max(r.acked, u32le(frame, 0));
    this.pump();
  }
}

function feed(inflate: Inflate, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    inflate.once('error', onError);
    inflate.write(chunk);
    inflate.flush(constants.Z_SYNC_FLUSH, () => {
      inflate.off('error', onError);
      // Let 'data' events of this flush run before the caller takes the output.
      setImmediate(resolve);
    });
  });
}
