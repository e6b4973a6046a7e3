// The desktop app's command line: the same station options as `flash-station serve` (port, data dir, sims, …).
import type { LaunchOptions } from '../server/launch.js';

export interface DesktopArgs extends LaunchOptions {
  /** Start hidden in the tray. */
  hidden?: boolean;
}

/**
 * Parses `--port N`, `--host A`, `--data-dir D`, `--sim S`, `--connect U`, `--serial-port P`, `--demo`, `--no-usb`,
 * `--no-serial`, `--hidden`. A bad `--serial-port` spec is refused by the launcher, naming the key.
 */
export function parseDesktopArgs(argv: readonly string[]): DesktopArgs {
  const out: DesktopArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (eq > 0 ? raw.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '--port': {
        const n = Number(value());
        if (Number.isInteger(n) && n >= 0 && n < 65536) out.port = n;
        break;
      }
      case '--host':
        out.host = value();
        break;
      case '--data-dir':
        out.dataDir = value();
        break;
      case '--sim': {
        const v = value();
        if (v) (out.sims ??= []).push(v);
        break;
      }
      case '--connect': {
        const v = value();
        if (v) (out.connect ??= []).push(v);
        break;
      }
      case '--serial-port': {
        const v = value();
        if (v) (out.serialPorts ??= []).push(v);
        break;
      }
      case '--demo':
        out.demo = true;
        break;
      case '--no-usb':
        out.usb = false;
        break;
      case '--no-serial':
        out.serial = false;
        break;
      case '--hidden':
        out.hidden = true;
        break;
      default:
        break; // Chromium's own switches and the app path pass through.
    }
  }
  return out;
}
