// The ESP family: Espressif chips behind their ROM serial loader, driven through esptool-js (docs/esp.md).
import { FlashError, toFlashError } from '../../contracts/errors.js';
import type { Candidate, DeviceDescription, Family, JobContext, PlanStep, Target } from '../../contracts/family.js';
import type { DeviceLink, SerialLineSettings, Transport } from '../../contracts/links.js';
import type { PartitionInfo } from '../../protocol/messages.js';
import { reconnectingLink } from '../../transports/reconnecting-link.js';
import { createSerialLink } from '../../transports/serial.js';
import { ESPRESSIF_VID, IMAGE_CHIP_ID, isKnownBridge } from './chips.js';
import { PARTITION_TABLE_OFFSET, PARTITION_TABLE_SIZE, parsePartitionTable, type EspPartition } from './image.js';
import { readEspPlan } from './plan.js';
import { openSession, espError, type EspSession, type ResetMode, type SessionOptions } from './session.js';
import { eraseRegion, flashRegion, verifyRegion } from './write.js';

export { readEspPlan, parseFlasherArgs } from './plan.js';
export { WebSerialPort } from './web-serial.js';

export interface EspFamilyOptions extends SessionOptions {
  /** Bound of the whole probe (reset, sync, stub, flash id, partition table), ms (default 12000). */
  probeTimeoutMs?: number;
}

interface Board {
  session: EspSession;
  partitions: EspPartition[];
  info: { vendorId?: number; productId?: number };
}

const RESET_MODES: readonly ResetMode[] = ['classic', 'usb-jtag', 'no_reset'];

function hex(n: number, width = 0): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

export function createEspFamily(options: EspFamilyOptions = {}): Family<DeviceLink> {
  const boards = new WeakMap<Transport, Board>();
  const portInfo = new WeakMap<DeviceLink, { vendorId?: number; productId?: number; reset?: ResetMode }>();

  async function board(link: DeviceLink, t: Transport, signal: AbortSignal, log?: (m: string) => void, reset?: ResetMode): Promise<Board> {
    const known = boards.get(t);
    if (known && !known.session.broken) return known;
    await known?.session.close();
    boards.delete(t);
    const info = portInfo.get(link) ?? {};
    const session = await openSession(t, info, { ...options, reset: reset ?? info.reset ?? options.reset }, signal);
    log?.(`Connected to ${session.chipName}: stub running at ${session.baud} baud, flash ${session.flashSize / 1048576} MiB`);
    let partitions: EspPartition[] = [];
    try {
      partitions = parsePartitionTable(await session.loader.readFlash(PARTITION_TABLE_OFFSET, PARTITION_TABLE_SIZE));
    } catch (e) {
      await session.close();
      throw espError(e, t, 'reading the partition table');
    }
    const b: Board = { session, partitions, info };
    boards.set(t, b);
    return b;
  }

  /** After a write over the partition table: read it back, so later steps and the device's listing use the new one. */
  async function rereadPartitions(b: Board, t: Transport, ctx: JobContext): Promise<void> {
    try {
      b.partitions = parsePartitionTable(await b.session.loader.readFlash(PARTITION_TABLE_OFFSET, PARTITION_TABLE_SIZE));
    } catch (e) {
      b.partitions = [];
      ctx.log('warn', `The partition table at 0x${PARTITION_TABLE_OFFSET.toString(16)} could not be read back: ${espError(e, t, 'reading the partition table').message}`);
    }
    ctx.describe?.({ partitions: b.partitions.map((p) => ({ name: p.label, size: p.size })), info: { partition_table: b.partitions.length > 0 } });
  }

  function address(b: Board, target: Target, what: string): { address: number; size?: number } {
    if ('address' in target) return { address: target.address };
    if ('partition' in target) {
      const p = b.partitions.find((q) => q.label === target.partition);
      if (!p) {
        const names = b.partitions.map((q) => q.label).join(', ') || 'none: flash a partition table first';
        throw new FlashError('partition_not_found', `The board's partition table has no "${target.partition}" (it has ${names})`);
      }
      return { address: p.offset, size: p.size };
    }
    if (what === 'erase') return { address: 0 };
    throw new FlashError('bad_request', 'ESP boards take an address or a partition label, not the whole device');
  }

  async function hardReset(t: Transport, usbJtag: boolean): Promise<void> {
    if (!t.serial) return;
    // EN low through RTS (DTR released so IO0 stays high: the application boots), then released.
    await t.serial.setSignals({ dtr: false, rts: true });
    await new Promise((r) => setTimeout(r, usbJtag ? 200 : 100));
    await t.serial.setSignals({ dtr: false, rts: false });
  }

  return {
    protocol: 'esp',
    title: 'Espressif ROM bootloader',
    targets: ['partition', 'address'],
    match(candidate: Candidate) {
      if (candidate.kind !== 'serial') return undefined;
      if (candidate.protocol !== undefined) return candidate.protocol === 'esp' ? 100 : undefined;
      if (candidate.vendorId === ESPRESSIF_VID) return 80;
      // No USB ids: a port the user named (`--serial-port PATH`, a pty); discovery offers only known VID:PIDs.
      if (candidate.vendorId === undefined) return 50;
      return isKnownBridge(candidate.vendorId, candidate.productId) ? 50 : undefined;
    },
    connect(candidate: Candidate): DeviceLink {
      if (candidate.kind !== 'serial') throw new FlashError('internal', `the ESP family cannot connect a ${candidate.kind} candidate`);
      const settings: SerialLineSettings = { baudRate: options.romBaud ?? 115200, dataBits: 8, parity: 'none', stopBits: 1 };
      const open = candidate.openStream;
      const link: DeviceLink = open ? { kind: 'stream', ...reconnectingLink(() => open(settings)) } : createSerialLink(candidate.path, settings);
      portInfo.set(link, { vendorId: candidate.vendorId, productId: candidate.productId });
      return link;
    },
    async probe(link, _candidate, signal): Promise<DeviceDescription> {
      const bound = AbortSignal.any([signal, AbortSignal.timeout(options.probeTimeoutMs ?? 12_000)]);
      try {
        const t = await link.open(bound);
        const b = await board(link, t, bound);
        const { loader, chipName } = b.session;
        const mac = await loader.chip.readMac(loader);
        const description = await loader.chip.getChipDescription(loader);
        const partitions: PartitionInfo[] = b.partitions.map((p) => ({ name: p.label, size: p.size }));
        return {
          name: `${description}`,
          serial: mac.replace(/:/g, ''),
          partitions,
          info: {
            chip: chipName,
            description,
            mac,
            flash_id: hex(b.session.flashId, 6),
            flash_size: b.session.flashSize,
            baud: b.session.baud,
            partition_table: b.partitions.length > 0,
          },
        };
      } catch (e) {
        await link.close().catch(() => undefined);
        if (bound.aborted && !signal.aborted) {
          throw new FlashError('device_rejected', `No Espressif bootloader answered within ${(options.probeTimeoutMs ?? 12_000) / 1000} s; not an ESP board, or hold BOOT while pressing RESET`);
        }
        throw toFlashError(e, 'device_rejected');
      }
    },
    async run(link, step: PlanStep, ctx: JobContext): Promise<void> {
      const t = await link.open(ctx.signal);
      const stepReset = 'options' in step && typeof step.options?.reset === 'string' ? (step.options.reset as ResetMode) : undefined;
      switch (step.op) {
        case 'flash':
        case 'verify': {
          const b = await board(link, t, ctx.signal, (m) => ctx.log('info', m), stepReset);
          const want = step.options?.chip;
          if (typeof want === 'string') {
            const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');
            if (norm(want) !== norm(b.session.chipName)) {
              throw new FlashError('image_mismatch', `The plan was built for ${want}, but the board is an ${b.session.chipName}; rebuild for ${b.session.chipName} and retry`);
            }
          }
          const { address: at, size } = address(b, step.target, step.op);
          if (size !== undefined && step.source.size > size) {
            throw new FlashError('image_too_large', `${step.source.description} (${step.source.size} bytes) does not fit partition ${'partition' in step.target ? step.target.partition : ''} (${size} bytes)`);
          }
          if (step.op === 'flash') {
            await flashRegion(b.session, t, at, step.source, ctx, {});
            const tableEnd = PARTITION_TABLE_OFFSET + PARTITION_TABLE_SIZE;
            if (at < tableEnd && at + step.source.size > PARTITION_TABLE_OFFSET) await rereadPartitions(b, t, ctx);
          } else await verifyRegion(b.session, t, at, step.source, ctx);
          return;
        }
        case 'erase': {
          const b = await board(link, t, ctx.signal, (m) => ctx.log('info', m), stepReset);
          if ('whole' in step.target) return eraseRegion(b.session, t, 0, undefined, ctx);
          const { address: at, size } = address(b, step.target, 'erase');
          const len = step.options?.length;
          const length = typeof len === 'number' ? len : size;
          if (length === undefined) throw new FlashError('bad_request', 'Erasing at an address needs a length (options.length, bytes, a multiple of 4096)');
          return eraseRegion(b.session, t, at, length, ctx);
        }
        case 'reboot': {
          const mode = step.mode ?? 'hard';
          if (mode !== 'hard' && mode !== 'bootloader') throw new FlashError('bad_request', `An ESP board reboots "hard" (into its application) or "bootloader", not "${mode}"`);
          const b = boards.get(t);
          boards.delete(t);
          await b?.session.close();
          if (mode === 'bootloader') {
            await board(link, t, ctx.signal, (m) => ctx.log('info', m), stepReset);
            return;
          }
          const info = portInfo.get(link);
          await hardReset(t, info?.vendorId === ESPRESSIF_VID);
          return;
        }
        case 'wait_for_device':
          return;
        case 'command':
          throw new FlashError('bad_request', `The ESP family has no command "${step.name}"`);
      }
    },
    checkCommand(name: string): string | undefined {
      return `The ESP family has no command "${name}" (use flash, verify, erase or reboot steps)`;
    },
    readPlan: readEspPlan,
  };
}

/** Chips whose images carry a chip id we check (ESP8266 images have none). */
export const ESP_IMAGE_CHIPS = Object.keys(IMAGE_CHIP_ID);
export { RESET_MODES };

export const espFamily = createEspFamily();
