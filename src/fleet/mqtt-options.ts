// Turns the `--mqtt …` flags into MQTT.js connect options: URL check, protocol version, TLS files, password file.
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { FlashError, fileReadReason } from '../contracts/errors.js';

export interface MqttConnectionOptions {
  /** `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`. */
  url: string;
  username?: string;
  /** A file whose first line is the password (never a command-line value: it would show in `ps`). */
  passwordFile?: string;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  /** PEM files for mqtts://: the broker's CA, and a client certificate and key when the broker asks for one. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Parses `--mqtt-protocol`: `5`, `3.1.1` (or `4`, its protocol level). */
export function parseProtocolVersion(value: string | undefined): 4 | 5 {
  if (value === undefined || value === '5') return 5;
  if (value === '3.1.1' || value === '4') return 4;
  throw new FlashError('bad_request', `--mqtt-protocol must be 5 or 3.1.1, not "${value}".`);
}

/** Checks the broker URL: only mqtt:// and mqtts:// (contract §9). */
export function checkBrokerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FlashError('bad_request', `--mqtt "${url}" is not a URL; write mqtt://HOST:1883 or mqtts://HOST:8883.`);
  }
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'mqtts:') {
    throw new FlashError('bad_request', `--mqtt takes mqtt:// or mqtts:// URLs, not ${parsed.protocol}//.`);
  }
  if (parsed.username || parsed.password) {
    throw new FlashError('bad_request', 'Put no user name or password in the --mqtt URL; use --mqtt-username and --mqtt-password-file.');
  }
  return parsed;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FlashError('bad_request', `Cannot read the ${what} ${path}: ${fileReadReason(e)}.`);
  }
}

/** MQTT.js options for a connection (without client id, will or session choices, which the caller adds). */
export function connectOptions(options: MqttConnectionOptions): IClientOptions {
  const url = checkBrokerUrl(options.url);
  const out: IClientOptions = { protocolVersion: options.protocolVersion ?? 5 };
  if (options.username !== undefined) out.username = options.username;
  if (options.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.passwordFile, 'utf8');
    } catch (e) {
      throw new FlashError('bad_request', `Cannot read --mqtt-password-file ${options.passwordFile}: ${fileReadReason(e)}.`);
    }
    out.password = text.split(/\r?\n/)[0] ?? '';
    if (options.username === undefined) throw new FlashError('bad_request', '--mqtt-password-file needs --mqtt-username.');
  }
  if (url.protocol === 'mqtts:') {
    if (options.caFile) out.ca = readPem(options.caFile, 'CA certificate (--mqtt-ca)');
    if (options.certFile) out.cert = readPem(options.certFile, 'client certificate (--mqtt-cert)');
    if (options.keyFile) out.key = readPem(options.keyFile, 'client key (--mqtt-key)');
    if (Boolean(options.certFile) !== Boolean(options.keyFile)) {
      throw new FlashError('bad_request', '--mqtt-cert and --mqtt-key go together.');
    }
    out.rejectUnauthorized = true;
  } else if (options.caFile || options.certFile || options.keyFile) {
    throw new FlashError('bad_request', 'TLS files (--mqtt-ca, --mqtt-cert, --mqtt-key) need an mqtts:// URL.');
  }
  return out;
}
