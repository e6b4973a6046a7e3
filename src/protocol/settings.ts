/**
 * Station settings and the device selectors they use, as they travel on the wire (GET/PUT /api/settings,
 * `get_settings`/`update_settings`). Shared by the core, the server and the UI. Imports only protocol types.
 */
import type { DeviceProtocol, DeviceState, DeviceTransport, PlanInput } from './messages.js';

/** Additive: which connected devices a many-device `start_flash` addresses. Every given field must match. */
export interface DeviceSelector {
  protocol?: DeviceProtocol;
  transport?: DeviceTransport;
  state?: DeviceState;
  /** Glob on the serial (`*` and `?`), e.g. `R58M*`. */
  serial?: string;
  /** Glob on `info.product`. */
  product?: string;
}

/** Additive: "when a device matching this appears, run this" (production lines: the operator only plugs devices in). */
export interface AutoFlashRule {
  id: string;
  name?: string;
  enabled: boolean;
  match: DeviceSelector;
  partition?: string;
  image?: string;
  plan?: string | PlanInput;
}

/** Additive: station settings, persisted as DATA_DIR/settings.json (the electron-store / conf JSON format). */
export interface StationSettings {
  /** Jobs running at once, station-wide. */
  slotLimit: number;
  /** Retries of a step that failed with a transient error (device dropped and came back, timeout). Never for user faults. */
  retries: number;
  /** Pause before a retry, in ms. */
  retryDelayMs: number;
  /** How long a job waits for a device that is not connected, in ms; 0 = refuse at once with `device_not_found`. */
  deviceWaitMs: number;
  /** Per-job bandwidth limit new jobs start with, bytes/s; null = unlimited. */
  jobBytesPerSecond: number | null;
  /** Station-wide bandwidth limit, bytes/s; null = unlimited. */
  stationBytesPerSecond: number | null;
  autoFlash: {
    enabled: boolean;
    rules: AutoFlashRule[];
    /** A device marked done is flashed again by a rule only after it was unplugged this long (ms). */
    replugMs: number;
  };
}
