// A simulated ESP board on a tty (one end of a socat pty pair): bytes through the UART model, no modem lines.
import { SerialPort } from 'serialport';
import type { EspSim } from './sim.js';
import { UartModel } from './uart.js';

export interface TtyFace {
  readonly path: string;
  close(): Promise<void>;
}

export async function startTtyFace(sim: EspSim, path: string): Promise<TtyFace> {
  const port = new SerialPort({ path, baudRate: sim.config.baud, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const uart = new UartModel(sim.device, { toHost: (b) => port.write(Buffer.from(b)) });
  port.on('data', (chunk: Buffer) => uart.fromHost(chunk));
  port.on('error', () => undefined);
  sim.device.on({
    disconnect: () => {
      uart.close();
      if (port.isOpen) port.close();
    },
  });
  return {
    path,
    async close() {
      uart.close();
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
    },
  };
}
