// Public entry of the simulators: `--sim SPEC` parsing, the in-station provider and `flash-station sim fastboot`.
export { parseSimSpec, parsePartitionList, applySimOption, type SimSpec } from './fastboot/spec.js';
export { createSimProvider, type SimProvider, type SimProviderOptions } from './provider.js';
export { runFastbootSimCli, runSimCli, SIM_USAGE, type SimCliIo } from './cli.js';
export { FastbootSimDevice, SimOfflineError, type DeviceEvent } from './fastboot/device.js';
export { SimSession, SimDisconnectedError, type EndReason } from './fastboot/connection.js';
export { startTcpFace, type SimSocketServer, type FaceOptions } from './fastboot/tcp-face.js';
export { startUdpFace } from './fastboot/udp-face.js';
export { SimUsbDevice, UsbSimError, type SimUsbOptions } from './fastboot/usb-face.js';
export type { FastbootSimConfig, FastbootSimSpec, SimFaults, SimLinkModel, SimMode, SimPartitionSpec } from './fastboot/config.js';
export { parseSize, parseDuration } from './units.js';
