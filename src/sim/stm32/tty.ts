// `flash-station sim stm32 --tty PATH`: the simulated bootloader on one end of a pty pair (or any serial port).
import { join } from 'node:path';
import type { SimCli, SimCliIo } from '../../contracts/simulator.js';
import { openSerialTransport } from '../../transports/serial.js';
import { faultFlags, parseSimFlags, simCliError, simCliLines, simStoreDir, untilStopped } from '../cli-io.js';
import { formatBytes, parseDuration } from '../units.js';
import { parseChip, parseFlashSize, Stm32SimDevice } from './device.js';

export const STM32_SIM_USAGE = `usage: flash-station sim stm32 --tty PATH [options]

A simulated STM32 in its USART system bootloader (AN3155) that stm32flash -m 8n1 and Flash Station flash.
  --tty PATH              the serial port or pty end to serve (e.g. one end of a socat pty pair)
  --chip NAME             f103 (default, id 0x410), f4 (0x413, sectors), f411, f0, g4, or a product id
  --flash-size SIZE       flash size (default: the chip's, 128K for f103)
  --store DIR             flash in DIR/flash.bin, byte 0 = 0x08000000 (default DATA_DIR/sim/stm32-sim)
  --data-dir DIR          the station's data dir, for the default store
  --baud N                modelled line rate, bytes/s = N / 10 (default 115200)
  --go-reset DURATION     after Go, time until the board is back in the bootloader (default 500ms)
  --fail-after BYTES, --disconnect-after BYTES, --stall-after BYTES, --fail-command NAME
                          fault injection (docs/stm32.md)
Prints "ready PATH" once it listens; stops on SIGINT/SIGTERM.`;

export async function runStm32SimCli(argv: string[], io: SimCliIo = {}): Promise<number> {
  const { out, err } = simCliLines(io);
  const str = { type: 'string' } as const;
  const flags = parseSimFlags('stm32', STM32_SIM_USAGE, argv, { tty: str, chip: str, 'flash-size': str, baud: str, 'go-reset': str }, { out, err });
  if ('status' in flags) return flags.status;
  const { values } = flags;
  let device: Stm32SimDevice;
  const tty = values.tty;
  try {
    if (!tty) throw new RangeError('give --tty PATH');
    const chip = parseChip(values.chip ?? 'f103');
    const flashSize = values['flash-size'] ? parseFlashSize(values['flash-size'], chip) : chip.flashSize;
    const baud = values.baud === undefined ? 115200 : Number(values.baud);
    if (!Number.isInteger(baud) || baud < 1200 || baud > 4_000_000) throw new RangeError(`--baud ${values.baud} must be a whole number from 1200 to 4000000`);
    const faults = faultFlags(values);
    const goReset = values['go-reset'];
    const storeDir = simStoreDir(values.store, values['data-dir'], 'stm32-sim');
    device = Stm32SimDevice.create({
      chip, flashSize, storeDir, baud, faults,
      ...(goReset !== undefined ? { goResetMs: parseDuration(goReset, '--go-reset') } : {}),
    });
    err(`simulated ${chip.name} (id 0x${chip.pid.toString(16)}): flash ${formatBytes(flashSize)} at 0x08000000 in ${join(storeDir, 'flash.bin')}; ${baud} baud`);
  } catch (e) {
    err(simCliError('stm32', e));
    return 2;
  }
  let port;
  try {
    // Real chips run 8E1; a pty ignores the parity, so both ends may ask for what they like.
    port = await openSerialTransport(tty, { baudRate: device.config.baud, parity: 'even' });
  } catch (e) {
    err(simCliError('stm32', e));
    device.close();
    return 1;
  }
  const link = port;
  const line = device.connect((b) => link.write(b), () => void link.close());
  const pump = (async (): Promise<void> => {
    while (!link.closed) {
      try {
        line.push(await link.read(65536, { timeoutMs: 0 }));
      } catch {
        return;
      }
    }
  })();
  out(`ready ${tty}`);
  await untilStopped(io.signal, line.done);
  line.close();
  await link.close();
  await pump;
  device.close();
  return 0;
}

export const stm32SimCli: SimCli = { usage: STM32_SIM_USAGE, run: runStm32SimCli };
