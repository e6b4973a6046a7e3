// MQTT connection options: the password comes from a file (its first line), never from the URL; TLS files only with
// mqtts:// and the broker's certificate always checked; the protocol is 5 or 3.1.1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectOptions, parseProtocolVersion } from '../../../src/fleet/mqtt-options.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(name: string, text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-mqtt-opts-'));
  dirs.push(d);
  writeFileSync(join(d, name), text);
  return join(d, name);
}

describe('connectOptions', () => {
  it('reads the password from the first line of its file, with the user name', () => {
    const pw = file('pw', 's3cret\nignored\n');
    expect(connectOptions({ url: 'mqtt://b:1883', username: 'st1', passwordFile: pw })).toMatchObject({ username: 'st1', password: 's3cret', protocolVersion: 5 });
    expect(() => connectOptions({ url: 'mqtt://b', passwordFile: pw })).toThrow(/needs --mqtt-username/);
    expect(() => connectOptions({ url: 'mqtt://b', username: 'u', passwordFile: join(tmpdir(), 'no-such-pw-file') })).toThrow(/Cannot read --mqtt-password-file .*no-such-pw-file: it does not exist\./);
  });

  it('refuses credentials in the URL and schemes other than mqtt:// and mqtts://', () => {
    expect(() => connectOptions({ url: 'mqtt://u:p@b' })).toThrow(/--mqtt-password-file/);
    expect(() => connectOptions({ url: 'ws://b' })).toThrow(/mqtt:\/\/ or mqtts:\/\//);
    expect(() => connectOptions({ url: 'not a url' })).toThrow(/not a URL/);
  });

  it('takes a CA and a client certificate for mqtts:// only, and always checks the broker', () => {
    const ca = file('ca.pem', 'CA');
    const cert = file('c.pem', 'CERT');
    const key = file('c.key', 'KEY');
    const o = connectOptions({ url: 'mqtts://b:8883', caFile: ca, certFile: cert, keyFile: key });
    expect([String(o.ca), String(o.cert), String(o.key), o.rejectUnauthorized]).toEqual(['CA', 'CERT', 'KEY', true]);
    expect(connectOptions({ url: 'mqtts://b' }).rejectUnauthorized).toBe(true);
    expect(() => connectOptions({ url: 'mqtt://b', caFile: ca })).toThrow(/need an mqtts:\/\/ URL/);
    expect(() => connectOptions({ url: 'mqtts://b', certFile: cert })).toThrow(/go together/);
  });
});

describe('parseProtocolVersion', () => {
  it('takes 5 (the default) and 3.1.1, nothing else', () => {
    expect([parseProtocolVersion(undefined), parseProtocolVersion('5'), parseProtocolVersion('3.1.1'), parseProtocolVersion('4')]).toEqual([5, 5, 4, 4]);
    expect(() => parseProtocolVersion('3')).toThrow(/5 or 3.1.1/);
  });
});
