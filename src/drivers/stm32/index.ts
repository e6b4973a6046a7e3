// The STM32 family: our own AN3155 host over a serial port (8E1; a pty that ignores parity works too).
import { FlashError, toFlashError } from '../../contracts/errors.js';
import type { Candidate, DeviceDescription, Family, JobContext, PlanStep, Target as StepTarget } from '../../contracts/family.js';
import type { DeviceLink, SerialLineSettings, Transport } from '../../contracts/links.js';
import { createSerialLink } from '../../transports/serial.js';
import { reconnectingLink } from '../../transports/reconnecting-link.js';
import { FLASH_BASE, chipById, type Stm32Chip } from './chips.js';
import { parseEntrySequence, playSignals, type EntrySequence } from './entry.js';
import { eraseStep, flashStep, protectedError, verifyStep, type Target } from './flash.js';
import { CMD, NackError, Stm32Host, type HostOptions } from './protocol.js';

export { parseEntrySequence } from './entry.js';
export { STM32_CHIPS, chipById, FLASH_BASE } from './chips.js';

export interface Stm32FamilyOptions {
  /** DTR/RTS sequence that puts the board in its bootloader (`stm32flash -i` syntax), played before each sync. */
  entry?: string;
  /** Line rate when the candidate names none (default 115200). */
  baudRate?: number;
  host?: HostOptions;
}

const COMMANDS = ['readout_unprotect', 'readout_protect', 'write_unprotect', 'enter_bootloader', 'go'] as const;

interface Session extends Target {
  synced: boolean;
  readoutProtected: boolean;
}

function hex(n: number, width = 8): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

export function createStm32Family(options: Stm32FamilyOptions = {}): Family<DeviceLink> {
  const sessions = new WeakMap<Transport, Session>();
  const defaultEntry: EntrySequence | undefined = options.entry ? parseEntrySequence(options.entry) : undefined;
  const hostFor = (t: Transport, signal?: AbortSignal): Stm32Host => new Stm32Host(t, options.host, signal);

  /** Sync and identify, once per open transport (again after a reset). */
  async function session(t: Transport, signal: AbortSignal, entry = defaultEntry): Promise<Session> {
    const known = sessions.get(t);
    if (known?.synced) return known;
    if (entry) await playSignals(t, entry.entry, signal);
    const host = hostFor(t, signal);
    await host.init();
    const info = await host.identify();
    const chip: Stm32Chip = chipById(info.pid) ?? {
      pid: info.pid, name: `STM32 (product id ${hex(info.pid, 3)})`, flashSize: 0, pageSize: 1024, ramStart: 0, ramEnd: 0,
      bootloaderVersion: info.version, extendedErase: info.extendedErase, flashSizeRegister: 0,
    };
    let flashSize = chip.flashSize;
    let readoutProtected = false;
    try {
      if (chip.flashSizeRegister) {
        const reg = await host.read(chip.flashSizeRegister, 2);
        const kib = (reg[0] ?? 0) | ((reg[1] ?? 0) << 8);
        if (kib > 0 && kib !== 0xffff && kib * 1024 <= Math.max(chip.flashSize, 2 * 1024 * 1024)) flashSize = kib * 1024;
      } else {
        await host.read(FLASH_BASE, 1);
      }
    } catch (e) {
      if (!(e instanceof NackError)) throw e;
      readoutProtected = true;
    }
    const s: Session = { chip, flashSize, extendedErase: info.extendedErase, synced: true, readoutProtected };
    sessions.set(t, s);
    return s;
  }

  function settings(candidate: Candidate): SerialLineSettings {
    const baudRate = (candidate.kind === 'serial' ? candidate.baudRate : undefined) ?? options.baudRate ?? 115200;
    return { baudRate, dataBits: 8, parity: 'even', stopBits: 1 };
  }

  async function reset(t: Transport, s: Session | undefined, ctx: JobContext, why: string): Promise<void> {
    if (s) s.synced = false;
    ctx.log('info', `${why}: the chip resets; syncing again`);
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    protocol: 'stm32',
    title: 'STM32 system bootloader (USART)',
    targets: ['address'],
    match(candidate) {
      if (candidate.kind !== 'serial') return undefined;
      if (candidate.protocol !== undefined) return candidate.protocol === 'stm32' ? 100 : undefined;
      if (candidate.vendorId === 0x0483) return 60; // ST-Link VCP or an STM32's own USB
      // Any other bridge, or a port the user named without ids (a pty): after ESP, whose probe goes first.
      return 10;
    },
    connect(candidate) {
      if (candidate.kind !== 'serial') throw new FlashError('internal', `the STM32 family cannot connect a ${candidate.kind} candidate`);
      const s = settings(candidate);
      const open = candidate.openStream;
      if (open) return { kind: 'stream', ...reconnectingLink(() => open(s)) };
      return createSerialLink(candidate.path, s);
    },
    async probe(link, _candidate, signal): Promise<DeviceDescription> {
      try {
        const t = await link.open(signal);
        const s = await session(t, signal);
        const info: DeviceDescription['info'] = {
          chip: s.chip.name,
          product_id: hex(s.chip.pid, 3),
          bootloader: `${s.chip.bootloaderVersion >> 4}.${s.chip.bootloaderVersion & 0xf}`,
          flash_size: s.flashSize,
          erase: s.extendedErase ? 'extended' : 'standard',
        };
        if (s.readoutProtected) info.readout_protected = true;
        return { name: s.chip.name, info };
      } catch (e) {
        await link.close().catch(() => undefined);
        throw toFlashError(e, 'device_rejected');
      }
    },
    async run(link, step: PlanStep, ctx) {
      const t = await link.open(ctx.signal);
      try {
        const stepEntry = 'options' in step ? step.options?.entry : undefined;
        const entry = typeof stepEntry === 'string' ? parseEntrySequence(stepEntry) : defaultEntry;
        if (step.op === 'command' && step.name === 'enter_bootloader') {
          const given = (step.args as { sequence?: unknown } | undefined)?.sequence; // a string: checkCommand saw to it
          const seq = parseEntrySequence(typeof given === 'string' ? given : (options.entry ?? ''));
          await playSignals(t, seq.entry, ctx.signal);
          sessions.delete(t);
          await session(t, ctx.signal, undefined);
          return;
        }
        const s = await session(t, ctx.signal, entry);
        const host = hostFor(t, ctx.signal);
        const address = step.op === 'flash' || step.op === 'verify' || step.op === 'erase' ? targetAddress(step.target) : undefined;
        switch (step.op) {
          case 'flash':
            if (s.readoutProtected) throw protectedError();
            await flashStep(host, s, step.source, address, ctx, { verify: step.options?.verify !== false, eraseAll: step.options?.erase === 'all' });
            return;
          case 'verify':
            await verifyStep(host, s, step.source, address, ctx);
            return;
          case 'erase': {
            const length = step.options?.length;
            await eraseStep(host, s, address ?? FLASH_BASE, typeof length === 'number' ? length : undefined, ctx);
            return;
          }
          case 'reboot': {
            if (step.mode !== undefined && step.mode !== 'go') throw new FlashError('bad_request', `An STM32 reboots by Go (mode "go"), not "${step.mode}"`);
            await go(host, FLASH_BASE, ctx);
            s.synced = false;
            if (entry) await playSignals(t, entry.exit, ctx.signal);
            return;
          }
          case 'wait_for_device':
            return;
          case 'command':
            switch (step.name) {
              case 'go': {
                const a = (step.args as { address?: unknown } | undefined)?.address;
                await go(host, typeof a === 'number' ? a : FLASH_BASE, ctx);
                s.synced = false;
                return;
              }
              case 'readout_unprotect':
                ctx.stage('Removing readout protection (erases the whole flash)');
                await host.readoutUnprotect();
                await reset(t, s, ctx, 'readout protection removed and flash erased');
                s.readoutProtected = false;
                return;
              case 'readout_protect':
                ctx.stage('Turning readout protection on');
                await host.readoutProtect();
                await reset(t, s, ctx, 'readout protection on');
                return;
              case 'write_unprotect':
                ctx.stage('Removing write protection');
                await host.writeUnprotect().catch((e: unknown) => {
                  if (e instanceof NackError) throw protectedError();
                  throw e;
                });
                await reset(t, s, ctx, 'write protection removed');
                return;
              default:
                throw new FlashError('bad_request', `Unknown STM32 command "${step.name}" (it takes ${COMMANDS.join(', ')})`);
            }
        }
      } catch (e) {
        // A cancel may have cut a command short (a board that stopped answering mid-write): the bootloader is then
        // mid-command and our sync is stale. Close the port so that the next job opens it afresh and syncs again.
        if (ctx.signal.aborted) {
          sessions.delete(t);
          await link.close().catch(() => undefined);
        }
        throw e;
      }
    },
    commandStage(name) {
      const stages: Record<string, string> = {
        readout_unprotect: 'Removing readout protection (erases the whole flash)',
        readout_protect: 'Turning readout protection on',
        write_unprotect: 'Removing write protection',
        enter_bootloader: 'Entering the bootloader (DTR/RTS)',
        go: 'Starting the application',
      };
      return stages[name];
    },
    checkCommand(name, args) {
      if (!(COMMANDS as readonly string[]).includes(name)) return `the STM32 family takes the commands ${COMMANDS.join(', ')}, not "${name}"`;
      if (name === 'enter_bootloader') {
        const seq = (args as { sequence?: unknown } | undefined)?.sequence;
        if (seq !== undefined && typeof seq !== 'string') return 'enter_bootloader takes { sequence: "dtr,-dtr" }';
        if (typeof seq === 'string') {
          try {
            parseEntrySequence(seq);
          } catch (e) {
            return e instanceof Error ? e.message : String(e);
          }
        }
      }
      if (name === 'go') {
        const a = (args as { address?: unknown } | undefined)?.address;
        if (a !== undefined && (typeof a !== 'number' || !Number.isInteger(a) || a < 0)) return 'go takes { address: NUMBER }';
      }
      return undefined;
    },
  };
}

async function go(host: Stm32Host, address: number, ctx: JobContext): Promise<void> {
  ctx.stage(`Starting the application at ${hex(address)}`);
  try {
    await host.go(address);
  } catch (e) {
    if (e instanceof NackError) throw new FlashError('device_rejected', `The STM32 refused to start at ${hex(address)} (readout protection, or not an address in flash or RAM)`, { detail: 'nack go' });
    throw e;
  }
}

function targetAddress(target: StepTarget): number {
  if ('address' in target) return target.address;
  if ('partition' in target) throw new FlashError('bad_request', `An STM32 has no partitions: give an address (e.g. ${hex(FLASH_BASE)}), not "${target.partition}"`);
  throw new FlashError('bad_request', `An STM32 is written at an address: give one (e.g. ${hex(FLASH_BASE)} for a raw .bin or a HEX file)`);
}

export const stm32Family = createStm32Family();
export { CMD };
