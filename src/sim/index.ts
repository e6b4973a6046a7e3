// Public entry of the simulators: `--sim SPEC` parsing, the in-station provider and `flash-station sim FAMILY`. A
// family's own simulator is imported from its folder (src/sim/FAMILY/index.ts).
export { createSimProvider, type SimProvider, type SimProviderOptions } from './provider.js';
export { parseSimArgs, FAULT_KEYS, type SimArgs } from './spec.js';
export { runSimCli, simCliFamilies, type SimCliIo } from './cli.js';
export { parseSize, parseDuration } from './units.js';
