// `flash-station sim esp --tty PATH …`: a standalone simulated ESP board on a tty, until SIGINT/SIGTERM.
import type { SimCli, SimCliIo } from '../../contracts/simulator.js';
import { faultFlags, isUsageError, parseSimFlags, simCliError, simCliLines, simStoreDir, untilStopped } from '../cli-io.js';
import { chipPersonality, ESP_SIM_CHIPS } from './chips.js';
import { createEspSim, parseBaud, parseFlashSize, type EspSim } from './sim.js';
import { startTtyFace } from './tty-face.js';

export const ESP_SIM_USAGE = `usage: flash-station sim esp --tty PATH [options]

A simulated Espressif board (ROM loader and flasher stub) on a tty, e.g. one end of
  socat -d -d pty,raw,echo=0 pty,raw,echo=0
  --tty PATH                 the tty to serve
  --chip NAME                ${ESP_SIM_CHIPS.join(', ')} (default esp32)
  --flash-size SIZE          512K, 1M, 2M, 4M, 8M or 16M (default 4M)
  --store DIR                flash lives in DIR/flash.bin (default DATA_DIR/sim/SERIAL)
  --serial S                 board serial, seeds the MAC (default ESPSIM1)
  --baud N                   the ROM's baud after reset (default 115200)
  --fail-after BYTES, --disconnect-after BYTES, --stall-after BYTES, --fail-command NAME
                             fault injection (docs/esp.md)
A pty has no DTR/RTS: the board starts in download mode, and a SYNC after the stub or the
application stands for the reset a host tries. Prints "ready PATH" once it listens.`;

export async function runEspSimCli(argv: string[], io: SimCliIo = {}): Promise<number> {
  const { out, err } = simCliLines(io);
  const str = { type: 'string' } as const;
  const flags = parseSimFlags('esp', ESP_SIM_USAGE, argv, { tty: str, chip: str, 'flash-size': str, serial: str, baud: str }, { out, err });
  if ('status' in flags) return flags.status;
  const { values } = flags;
  let sim: EspSim;
  let tty: string;
  try {
    if (!values.tty) throw new RangeError('give --tty PATH (one end of a pty pair)');
    tty = values.tty;
    const serial = values.serial ?? 'ESPSIM1';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(serial)) throw new RangeError(`--serial "${serial}" must be 1-64 letters, digits, '.', '_' or '-'`);
    const faults = faultFlags(values);
    const chip = chipPersonality(values.chip ?? 'esp32').chip;
    sim = await createEspSim({
      serial,
      chip,
      flashSize: parseFlashSize(values['flash-size'] ?? '4M'),
      storeDir: simStoreDir(values.store, values['data-dir'], serial),
      baud: parseBaud(values.baud ?? '115200'),
      wiring: 'none',
      faults,
    });
  } catch (e) {
    err(simCliError('esp', e));
    if (isUsageError(e)) err(ESP_SIM_USAGE);
    return 2;
  }
  let face;
  try {
    face = await startTtyFace(sim, tty);
  } catch (e) {
    err(`flash-station sim esp: cannot open ${tty}: ${e instanceof Error ? e.message : String(e)}`);
    await sim.close();
    return 1;
  }
  err(`simulated ${sim.device.chip.title} ${sim.config.serial}: flash ${sim.flash.size / 1048576} MiB in ${sim.flash.path}, ${sim.config.baud} baud`);
  out(`ready ${tty}`);
  await untilStopped(io.signal);
  await face.close();
  await sim.close();
  return 0;
}

export const espSimCli: SimCli = { usage: ESP_SIM_USAGE, run: runEspSimCli };
