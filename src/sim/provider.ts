// `--sim SPEC` devices inside the station: each spec goes to its family's SimulatorFactory (src/families.ts); the
// instance's candidate is offered while the simulated device is present and withdrawn while it is away (a reboot).
import { join } from 'node:path';
import { FlashError } from '../contracts/errors.js';
import type { CandidateProvider, CandidateSink } from '../contracts/provider.js';
import type { SimInstance, SimulatorFactory } from '../contracts/simulator.js';
import { SIMULATORS } from '../families.js';
import { parseSimArgs, type SimArgs } from './spec.js';

export interface SimProviderOptions {
  /** Each simulator keeps its flash/partitions in `DATA_DIR/sim/SERIAL/`. */
  dataDir: string;
  /** The simulators of every family (default: src/families.ts SIMULATORS). */
  factories?: readonly SimulatorFactory[];
  /** Run at a modelled link speed (`--demo`). */
  demo?: boolean;
}

export interface SimProvider<D = unknown> extends CandidateProvider {
  /**
   * The running simulated devices by serial, as their factory made them (tests inspect partitions, faults and
   * violations through the family's own type: `createSimProvider<ItsDevice>(…)`).
   */
  readonly devices: ReadonlyMap<string, D>;
}

/** Parse every spec up front (a bad one throws FlashError `bad_request` before anything starts). */
export function createSimProvider<D = unknown>(specs: string[], options: SimProviderOptions): SimProvider<D> {
  const parsed = specs.map(parseSimArgs);
  const byProtocol = new Map((options.factories ?? SIMULATORS).map((f) => [f.protocol as string, f]));
  const serials = new Set<string>();
  for (const s of parsed) {
    if (!byProtocol.has(s.protocol)) {
      throw new FlashError('bad_request', `Simulator spec "${s.protocol}:${s.serial}": unknown protocol "${s.protocol}" (simulated: ${[...byProtocol.keys()].join(', ')})`);
    }
    if (serials.has(s.serial)) throw new FlashError('bad_request', `Two simulated devices share the serial ${s.serial}`);
    serials.add(s.serial);
  }
  const instances = new Map<string, SimInstance>();
  const devices = new Map<string, D>();
  const unsubscribe: Array<() => void> = [];

  const start = async (args: SimArgs, sink: CandidateSink): Promise<void> => {
    const factory = byProtocol.get(args.protocol) as SimulatorFactory;
    const options_ = { storeDir: join(options.dataDir, 'sim', args.serial), ...(options.demo ? { demo: true } : {}) };
    const instance = await factory.create(args.serial, args.params, args.faults, options_);
    instances.set(args.serial, instance);
    // The family's own device object when its instance exposes one (`device`), else the instance.
    devices.set(args.serial, ((instance as SimInstance & { device?: unknown }).device ?? instance) as D);
    let key: string | undefined;
    const plug = (): void => {
      const candidate = instance.candidate();
      key = candidate.key;
      sink.offer(candidate);
    };
    unsubscribe.push(
      instance.onPresence((present) => {
        if (present) plug();
        else if (key !== undefined) sink.withdraw(key);
      }),
    );
    plug();
  };

  return {
    name: 'sim',
    devices,
    async start(sink: CandidateSink): Promise<void> {
      for (const args of parsed) await start(args, sink);
    },
    async stop(): Promise<void> {
      for (const off of unsubscribe.splice(0)) off();
      const all = [...instances.values()];
      instances.clear();
      devices.clear();
      await Promise.all(all.map((d) => d.close()));
    },
  };
}
