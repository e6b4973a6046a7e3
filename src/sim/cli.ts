// `flash-station sim FAMILY …`: the standalone simulator of a family that has one (its SimulatorFactory's `loadCli`,
// listed in src/families.ts SIMULATORS); the family's own flags follow the family's word.
import type { SimCliIo, SimulatorFactory } from '../contracts/simulator.js';
import { SIMULATORS } from '../families.js';

export type { SimCliIo };

/** The families that have a standalone simulator, in the order src/families.ts lists them. */
export function simCliFamilies(factories: readonly SimulatorFactory[] = SIMULATORS): string[] {
  return factories.filter((f) => f.loadCli).map((f) => f.protocol);
}

/** Run `flash-station sim FAMILY …`; undefined when no family of that name has a standalone simulator. */
export async function runSimCli(argv: string[], io: SimCliIo = {}, factories: readonly SimulatorFactory[] = SIMULATORS): Promise<number | undefined> {
  const loadCli = factories.find((f) => f.protocol === argv[0])?.loadCli;
  if (!loadCli) return undefined;
  return (await loadCli()).run(argv.slice(1), io);
}
