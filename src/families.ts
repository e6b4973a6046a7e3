// The one list of device families and their simulators: the core, server, client, UI and CLI know the families only
// through this file. A new family adds one line to each list (docs/architecture.md, "How to add a family").
import type { Family } from './contracts/family.js';
import type { SimulatorFactory } from './contracts/simulator.js';
import { fastbootFamily, FASTBOOT_PORT } from './drivers/fastboot/index.js';
import { fastbootSimulatorFactory } from './sim/fastboot/factory.js';
import { espFamily } from './drivers/esp/index.js';
import { espSimulatorFactory } from './sim/esp/factory.js';
import { stm32Family } from './drivers/stm32/index.js';
import { stm32SimulatorFactory } from './sim/stm32/factory.js';
import { dfuFamily } from './drivers/dfu/index.js';
import { dfuSimulatorFactory } from './sim/dfu/index.js';
import { blockFamily } from './drivers/block/index.js';

export const FAMILIES: readonly Family[] = [
  fastbootFamily,
  espFamily,
  stm32Family,
  dfuFamily,
  blockFamily,
];

export const SIMULATORS: readonly SimulatorFactory[] = [
  fastbootSimulatorFactory,
  espSimulatorFactory,
  stm32SimulatorFactory,
  dfuSimulatorFactory,
];

/** `serve --connect tcp:HOST[:PORT]` adds a network fastboot device (contract §1): its family and usual port. */
export const NETWORK_FAMILY = { protocol: 'fastboot', defaultPort: FASTBOOT_PORT } as const;
