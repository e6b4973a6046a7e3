/**
 * In-station simulators (`--sim PROTOCOL:SERIAL?key=value…`, contract §5 and §7): each family that has one exports a
 * SimulatorFactory, listed in src/families.ts. The sim provider parses the spec, asks the factory for an instance,
 * and offers the instance's candidate to the registry like any discovered device.
 */
import type { DeviceProtocol } from '../protocol/messages.js';
import type { Candidate } from './family.js';

/** The fault keys every family's simulator takes (contract §5); byte counts are data bytes the device received. */
export interface SimFaults {
  failAfter?: number;
  disconnectAfter?: number;
  stallAfter?: number;
  /** A command name the device refuses (as the family's protocol names it, e.g. `flash` or `dnload`). */
  failCommand?: string;
}

export interface SimOptions {
  /** The simulator keeps its flash/partitions under this folder (`DATA_DIR/sim/SERIAL`). */
  storeDir: string;
  /** Devices run at a modelled link speed (`--demo`) rather than as fast as they can. */
  demo?: boolean;
}

export interface SimInstance {
  /** What to offer the registry while the device is present. */
  candidate(): Candidate;
  /** Called with false when the simulated device drops off the bus (reboot, fault) and true when it is back. */
  onPresence(listener: (present: boolean) => void): () => void;
  close(): Promise<void>;
}

export interface SimulatorFactory {
  readonly protocol: DeviceProtocol;
  /**
   * Keys this family's spec takes besides the common fault keys, for the error that names them. `create` throws a
   * FlashError `bad_request` naming the key for an unknown key or a bad value.
   */
  readonly keys: readonly string[];
  create(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults, options: SimOptions): Promise<SimInstance>;
  /**
   * `flash-station sim PROTOCOL …`: the family's standalone simulator (on real sockets or a tty), loaded only when that
   * command runs. Absent when the family has none.
   */
  readonly loadCli?: () => Promise<SimCli>;
  /** Specs `--demo` adds for this family (`PROTOCOL:SERIAL?…`), at the speed of the link such a device has. */
  readonly demo?: readonly string[];
}

/** Where a standalone simulator writes its lines; defaults to stdout/stderr. `signal` stops it, besides SIGINT/SIGTERM. */
export interface SimCliIo {
  out?: (line: string) => void;
  err?: (line: string) => void;
  signal?: AbortSignal;
}

export interface SimCli {
  /** The `--help` text. */
  readonly usage: string;
  /** Run with the words after `sim PROTOCOL`; resolves with the exit status (0 ok, 1 failed, 2 bad usage). */
  run(argv: string[], io?: SimCliIo): Promise<number>;
}
