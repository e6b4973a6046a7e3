// mqtts:// against mosquitto with a CA of the test's own that also requires a client certificate: the station and
// the fleet view connect with --mqtt-ca/--mqtt-cert/--mqtt-key; without the client certificate, or without the CA,
// they do not, and the link says why.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../../helpers/until.js';
import { fleet, image, link, pause, setup, station } from './harness.js';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all EC P-256 (fast to make). */
function makePki(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=fleet test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  openssl(dir, 'req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=T1');
  openssl(dir, 'x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
  // mosquitto drops root for user mosquitto: it must read its key.
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
}

describe('station link and fleet view over mqtts://', () => {
  it('connect with the CA and a client certificate, and are refused without them', async () => {
    const { dir: base } = await setup();
    const pki = join(base, 'pki');
    execFileSync('mkdir', ['-m', '755', pki]);
    makePki(pki);
    const { dir, broker } = await setup({
      brokerExtra: `allow_anonymous true\ncafile ${pki}/ca.pem\ncertfile ${pki}/server.pem\nkeyfile ${pki}/server.key\nrequire_certificate true\n`,
    });
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const tls = { caFile: join(pki, 'ca.pem'), certFile: join(pki, 'client.pem'), keyFile: join(pki, 'client.key') };
    const f = await fleet(url, tls);
    const st = await station(dir, 'T1');
    const l = link(st, dir, 'T1', url, tls);
    await until(() => l.state === 'connected' && f.store.get('T1')?.online === true, 10_000, 'station online in the fleet over TLS');
    await st.startFlash({ deviceId: 'T1', partition: 'boot', image: image(dir) });
    await until(() => f.store.get('T1')?.counters.completed === 1, 20_000, 'the job seen through the TLS broker');

    // The broker requires a client certificate: without one the link never comes up, and says so.
    const noCert = link(await station(dir, 'T2'), dir, 'T2', url, { caFile: tls.caFile, reconnectMs: 60_000 });
    await pause(1500);
    expect(noCert.state).not.toBe('connected');
    expect(noCert.problem).toMatch(/unreachable/);
    // Without the CA the broker's certificate is not trusted.
    const noCa = link(await station(dir, 'T3'), dir, 'T3', url, { certFile: tls.certFile, keyFile: tls.keyFile, reconnectMs: 60_000 });
    await until(() => noCa.problem !== undefined, 5000, 'a TLS problem');
    expect(noCa.state).not.toBe('connected');
    expect(noCa.problem).toMatch(/certificate/i);
    expect(f.store.get('T2')).toBeUndefined();
    expect(f.store.get('T3')).toBeUndefined();
  });
});
