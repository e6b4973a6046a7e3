// Public entry of the fastboot simulator: the device, its faces (USB, TCP, UDP), its `--sim` spec and its command line.
export { parseSimSpec, parsePartitionList, applySimOption, type SimSpec } from './spec.js';
export { FastbootSimDevice, SimOfflineError, type DeviceEvent } from './device.js';
export { SimSession, SimDisconnectedError, type EndReason } from './connection.js';
export { startTcpFace, type SimSocketServer, type FaceOptions } from './tcp-face.js';
export { startUdpFace } from './udp-face.js';
export { SimUsbDevice, type SimUsbOptions } from './usb-face.js';
export type { FastbootSimConfig, FastbootSimSpec, SimFaults, SimLinkModel, SimMode, SimPartitionSpec } from './config.js';
export { runFastbootSimCli, FASTBOOT_SIM_USAGE, fastbootSimCli } from './cli.js';
export { fastbootSimulatorFactory, createFastbootSimulatorFactory } from './factory.js';
