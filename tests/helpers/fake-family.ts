// A device attached straight to a registry with a test-only family built from a describe and a run function.
import type { Family, DeviceDescription, JobContext, PlanStep } from '../../src/contracts/family.js';
import type { Link } from '../../src/contracts/links.js';
import type { AttachedDevice } from '../../src/devices/registry.js';

export interface FakeDriver {
  describe?: () => Promise<DeviceDescription>;
  run?: (link: Link, step: PlanStep, ctx: JobContext) => Promise<void>;
}

export function fakeFamily(d: FakeDriver = {}): Family {
  return {
    protocol: 'fastboot', title: 'test family', targets: ['partition', 'address', 'whole'],
    match: () => undefined,
    connect: () => { throw new Error('not connected by tests'); },
    probe: () => (d.describe ?? (async () => ({ info: {} })))(),
    run: (link, step, ctx) => (d.run ?? (async () => undefined))(link, step, ctx),
  };
}

export function fakeAttached(id: string, d: FakeDriver, link: Link): AttachedDevice {
  return {
    device: { id, protocol: 'fastboot', transport: 'sim', name: id, serial: id, info: {} },
    family: fakeFamily(d), link,
    candidate: { kind: 'serial', key: id, transport: 'sim', path: id },
  };
}
