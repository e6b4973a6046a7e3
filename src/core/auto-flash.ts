// Auto-flash: when a device matching a rule appears, start the rule's job — the operator only plugs devices in.
// Also clears a device's done/failed mark when it was unplugged for longer than `replugMs`.
import type { DeviceRegistry } from '../devices/registry.js';
import { toFlashError } from './errors.js';
import { matchesSelector } from './device-select.js';
import type { JobManager } from './job-manager.js';
import type { Settings } from './settings.js';
import type { AutoFlashRule } from './station-api.js';

export class AutoFlash {
  private readonly off: () => void;
  private readonly starting = new Set<string>();

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly jobs: JobManager,
    private readonly settings: () => Settings,
  ) {
    this.off = registry.on((event, id) => {
      if (event === 'attached') void this.onAttached(id);
    });
  }

  stop(): void {
    this.off();
  }

  /** The first enabled rule that matches the device, if any. */
  ruleFor(deviceId: string): AutoFlashRule | undefined {
    const device = this.registry.get(deviceId);
    if (!device) return undefined;
    const s = this.settings().autoFlash;
    if (!s.enabled) return undefined;
    // Match on what the device is, not on its momentary state (it is `busy` while being described).
    return s.rules.find((r) => r.enabled && matchesSelector(device, { ...r.match, state: undefined }));
  }

  private async onAttached(id: string): Promise<void> {
    const entry = this.registry.entry(id);
    if (!entry) return;
    const auto = this.settings().autoFlash;
    // A device that left for a while and came back is a new plug: forget its done/failed mark (rules or not).
    const station = this.registry.stationInfoOf(id).station;
    const gone = this.registry.lastDetached(id);
    if (
      (station === 'done' || station === 'failed') && gone !== undefined && entry.attachedAt - gone >= auto.replugMs &&
      this.registry.lockedBy(id) === undefined
    ) {
      this.registry.setStationInfo(id, { station: undefined, stationMessage: undefined });
    }
    if (!auto.enabled || !auto.rules.some((r) => r.enabled)) return;
    await entry.ready;
    if (this.registry.entry(id) !== entry) return;
    if (this.registry.lockedBy(id) !== undefined || this.jobs.activeJobFor(id) || this.starting.has(id)) return;
    const mark = this.registry.stationInfoOf(id).station;
    if (mark === 'done' || mark === 'failed') return; // waits to be unplugged
    const rule = this.ruleFor(id);
    if (!rule) return;
    this.starting.add(id);
    try {
      const req = { deviceId: id, ...(rule.plan !== undefined ? { plan: rule.plan } : { partition: rule.partition, image: rule.image }) };
      await this.jobs.start(req, { ruleId: rule.id });
    } catch (e) {
      const err = toFlashError(e);
      this.registry.setStationInfo(id, { station: 'failed', stationMessage: `Auto-flash rule ${rule.name ?? rule.id} could not start: ${err.message}` });
    } finally {
      this.starting.delete(id);
    }
  }
}
