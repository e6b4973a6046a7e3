// STM32 steps on a synced bootloader: erase what the image covers, write 256-byte blocks, read back, report progress.
import { FlashError, toFlashError } from '../../contracts/errors.js';
import type { JobContext } from '../../contracts/family.js';
import type { BlockSource } from '../../contracts/source.js';
import type { Segment } from '../../images/addressed.js';
import { FLASH_BASE, eraseUnits, unitsCovering, type Stm32Chip } from './chips.js';
import { checkBounds, loadImage, writeBlocks, type WriteImage } from './image.js';
import { NackError, type Stm32Host } from './protocol.js';

export interface Target {
  chip: Stm32Chip;
  flashSize: number;
  extendedErase: boolean;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export function protectedError(): FlashError {
  return new FlashError(
    'device_protected',
    'This STM32 has readout protection on: its bootloader refuses to read, write or erase. Remove it with the ' +
      "readout_unprotect command (or stm32flash -k) — doing so ERASES THE WHOLE FLASH — then flash again",
    { detail: 'rdp active' },
  );
}

/** Throws device_protected when a 1-byte read of the flash is refused. */
export async function assertReadable(host: Stm32Host): Promise<void> {
  try {
    await host.read(FLASH_BASE, 1);
  } catch (e) {
    if (e instanceof NackError) throw protectedError();
    throw e;
  }
}

/** Progress in the source's units (a HEX file's text bytes), whatever the binary size. */
class Progress {
  private done = 0;
  private reported = 0;

  constructor(
    private readonly ctx: JobContext,
    private readonly binary: number,
    private readonly units: number,
  ) {}

  add(n: number): void {
    this.done += n;
    const target = this.binary > 0 ? Math.floor((this.done * this.units) / this.binary) : 0;
    if (target > this.reported) {
      this.ctx.moved(target - this.reported);
      this.reported = target;
    }
  }
}

/** Between blocks: cancel, pause and throttle. */
async function between(ctx: JobContext, n: number): Promise<void> {
  const cancelled = (): FlashError => new FlashError('cancelled', 'Cancelled between blocks; the flash holds a partial image');
  if (ctx.signal.aborted) throw cancelled();
  try {
    await ctx.gate.pass(ctx.signal);
    if (n > 0) await ctx.throttle.take(n, ctx.signal);
  } catch (e) {
    if (ctx.signal.aborted) throw cancelled();
    throw e;
  }
  if (ctx.signal.aborted) throw cancelled();
}

/** A lost port mid-step: say how far it got. */
function withOffset(e: unknown, what: string, offset: number, address: number): FlashError {
  const err = toFlashError(e);
  if (err.code !== 'disconnected' && err.code !== 'timeout') return err;
  return new FlashError(err.code, `${err.message} — ${what} stopped at byte offset ${offset} (address ${hex(address)}); the flash holds a partial image: flash again`, {
    transient: err.transient,
    detail: `byte offset ${offset}`,
    cause: err,
  });
}

/** Erase the pages/sectors the blocks touch, in batches the commands take. */
export async function eraseCovering(host: Stm32Host, t: Target, blocks: readonly Segment[], ctx: JobContext): Promise<number> {
  const units = eraseUnits(t.chip, t.flashSize);
  const pages = new Set<number>();
  for (const b of blocks) for (const u of unitsCovering(units, b.address - FLASH_BASE, b.bytes.length)) pages.add(u.index);
  const list = [...pages].sort((a, b) => a - b);
  const batch = t.extendedErase ? 512 : 255;
  for (let i = 0; i < list.length; i += batch) {
    await between(ctx, 0);
    await host.erasePages(list.slice(i, i + batch), t.extendedErase);
  }
  return list.length;
}

export interface FlashOptions {
  verify: boolean;
  /** Mass-erase first instead of erasing only the pages the image touches. */
  eraseAll?: boolean;
}

export async function flashStep(host: Stm32Host, t: Target, source: BlockSource, address: number | undefined, ctx: JobContext, options: FlashOptions): Promise<void> {
  ctx.stage(`Reading ${source.description}`);
  const image = await loadImage(source, address, ctx.signal);
  checkBounds(image, t.flashSize, source.description);
  const blocks = writeBlocks(image.segments);
  await assertReadable(host);
  ctx.stage(options.eraseAll ? 'Erasing the whole flash' : 'Erasing the pages the image covers');
  if (options.eraseAll) await host.massErase(t.extendedErase);
  else {
    const n = await eraseCovering(host, t, blocks, ctx);
    ctx.log('info', `erased ${n} ${t.chip.sectors ? 'sectors' : 'pages'}`);
  }
  ctx.stage(`Writing ${describe(image)}`);
  const progress = new Progress(ctx, blockBytes(blocks), source.dataBytes);
  let offset = 0;
  for (const b of blocks) {
    await between(ctx, b.bytes.length);
    // A block of 0xFF is what the erase left: nothing to program.
    if (!b.bytes.every((x) => x === 0xff)) await writeBlock(host, b, offset, ctx);
    offset += b.bytes.length;
    progress.add(b.bytes.length);
  }
  if (options.verify) await verifyBlocks(host, blocks, ctx, undefined);
}

/** Tries a block up to 3 times: a NACK or a lost answer may be line noise (stm32flash retries too). */
async function writeBlock(host: Stm32Host, b: Segment, offset: number, ctx: JobContext): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await host.write(b.address, b.bytes);
      return;
    } catch (e) {
      const retryable = e instanceof NackError || (e instanceof FlashError && e.code === 'timeout');
      if (retryable && attempt < 3 && !ctx.signal.aborted) {
        ctx.log('warn', `block at ${hex(b.address)}: ${(e as Error).message}; retrying (${attempt + 1}/3)`);
        if (e instanceof FlashError && e.code === 'timeout') await host.resync();
        continue;
      }
      if (e instanceof NackError) {
        throw new FlashError('device_rejected', `The STM32 refused the block at ${hex(b.address)} ${attempt} times (write-protected page, or not erased); run write_unprotect if the flash is write-protected`, { detail: e.detail ?? 'nack write' });
      }
      throw withOffset(e, 'writing', offset, b.address);
    }
  }
}

function blockBytes(blocks: readonly Segment[]): number {
  return blocks.reduce((n, b) => n + b.bytes.length, 0);
}

function describe(image: WriteImage): string {
  const first = image.segments[0]?.address ?? FLASH_BASE;
  const kind = image.format === 'raw' ? '' : image.format === 'ihex' ? ' (Intel HEX)' : ' (S-record)';
  return `${image.dataBytes} bytes at ${hex(first)}${kind}`;
}

/** Read the blocks back and compare; `progress` when verifying is the step's own work. */
export async function verifyBlocks(host: Stm32Host, blocks: readonly Segment[], ctx: JobContext, progress: Progress | undefined): Promise<void> {
  ctx.stage('Verifying (reading back)');
  let offset = 0;
  for (const b of blocks) {
    await between(ctx, 0);
    let got: Uint8Array;
    try {
      got = await host.read(b.address, b.bytes.length);
    } catch (e) {
      if (e instanceof NackError) throw protectedError();
      throw withOffset(e, 'verifying', offset, b.address);
    }
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== b.bytes[i]) {
        throw new FlashError('verify_mismatch', `Read-back differs at ${hex(b.address + i)}: wrote 0x${(b.bytes[i] ?? 0).toString(16)}, read 0x${(got[i] ?? 0).toString(16)}`, {
          detail: `address ${hex(b.address + i)}`,
        });
      }
    }
    offset += b.bytes.length;
    progress?.add(b.bytes.length);
  }
}

export async function verifyStep(host: Stm32Host, t: Target, source: BlockSource, address: number | undefined, ctx: JobContext): Promise<void> {
  const image = await loadImage(source, address, ctx.signal);
  checkBounds(image, t.flashSize, source.description);
  const blocks = writeBlocks(image.segments);
  await assertReadable(host);
  await verifyBlocks(host, blocks, ctx, new Progress(ctx, blockBytes(blocks), source.dataBytes));
}

/** Erase: the whole flash, or `length` bytes from `address` rounded out to pages/sectors. */
export async function eraseStep(host: Stm32Host, t: Target, address: number, length: number | undefined, ctx: JobContext): Promise<void> {
  await assertReadable(host);
  if (length === undefined) {
    if (address !== FLASH_BASE) throw new FlashError('bad_request', `To erase from ${hex(address)} give a length too; without one the whole flash is erased (address ${hex(FLASH_BASE)})`);
    ctx.stage('Erasing the whole flash');
    await host.massErase(t.extendedErase);
    return;
  }
  checkBounds({ segments: [{ address, bytes: new Uint8Array(length) }], dataBytes: length, format: 'raw' }, t.flashSize, 'erase range');
  ctx.stage(`Erasing ${length} bytes from ${hex(address)}`);
  await eraseCovering(host, t, [{ address, bytes: new Uint8Array(length) }], ctx);
}
