// `serve --mqtt …` flags → the station link's options, checked before the station starts (a bad id or URL is a
// usage error, not a broker problem found later).
import { FlashError } from '../contracts/errors.js';
import { checkBrokerUrl, parseProtocolVersion } from './mqtt-options.js';
import type { StationLinkOptions } from './station-link.js';
import { defaultStationId, stationIdProblem } from './topics.js';

export interface MqttServeFlags {
  mqtt?: string;
  'station-id'?: string;
  'mqtt-username'?: string;
  'mqtt-password-file'?: string;
  'mqtt-commands'?: boolean;
  'mqtt-protocol'?: string;
  'mqtt-ca'?: string;
  'mqtt-cert'?: string;
  'mqtt-key'?: string;
}

const DEPENDENT = ['station-id', 'mqtt-username', 'mqtt-password-file', 'mqtt-commands', 'mqtt-protocol', 'mqtt-ca', 'mqtt-cert', 'mqtt-key'] as const;

/** Undefined without --mqtt; throws a FlashError naming the flag at fault. */
export async function mqttServeOptions(flags: MqttServeFlags): Promise<Omit<StationLinkOptions, 'dataDir'> | undefined> {
  if (flags.mqtt === undefined) {
    const stray = DEPENDENT.find((k) => flags[k] !== undefined);
    if (stray) throw new FlashError('bad_request', `--${stray} needs --mqtt URL.`);
    return undefined;
  }
  checkBrokerUrl(flags.mqtt);
  const stationId = flags['station-id'] ?? defaultStationId();
  const problem = stationIdProblem(stationId);
  if (problem) throw new FlashError('bad_request', `--station-id "${stationId}" refused: ${problem}.`);
  if ((flags['mqtt-password-file'] === undefined) !== (flags['mqtt-username'] === undefined) && flags['mqtt-password-file'] !== undefined) {
    throw new FlashError('bad_request', '--mqtt-password-file needs --mqtt-username.');
  }
  return {
    url: flags.mqtt,
    stationId,
    commands: flags['mqtt-commands'] ?? false,
    protocolVersion: parseProtocolVersion(flags['mqtt-protocol']),
    ...(flags['mqtt-username'] !== undefined ? { username: flags['mqtt-username'] } : {}),
    ...(flags['mqtt-password-file'] !== undefined ? { passwordFile: flags['mqtt-password-file'] } : {}),
    ...(flags['mqtt-ca'] !== undefined ? { caFile: flags['mqtt-ca'] } : {}),
    ...(flags['mqtt-cert'] !== undefined ? { certFile: flags['mqtt-cert'] } : {}),
    ...(flags['mqtt-key'] !== undefined ? { keyFile: flags['mqtt-key'] } : {}),
  };
}
