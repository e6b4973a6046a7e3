// The rules for listening beyond loopback (contract §8) shared by the station and the fleet view.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, pageUrl, prepareBind, shownHost } from '../../../src/server/network-bind.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'fs-bind-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('network-bind', () => {
  it('knows the loopback addresses, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', '127.0.0.1.evil.example', 'localhost.evil.example', '::ffff:10.0.0.1']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  it('refuses plain HTTP beyond loopback unless told the network is trusted, naming what it would offer', async () => {
    await expect(prepareBind({ host: '127.0.0.1', what: 'the station' })).resolves.toBeUndefined();
    await expect(prepareBind({ host: '192.168.1.5', what: 'the fleet view' })).rejects.toMatchObject({
      code: 'bad_request', message: expect.stringMatching(/^--host 192\.168\.1\.5 would offer the fleet view to the network over plain HTTP.*--tls-cert FILE --tls-key FILE.*--insecure-no-tls/),
    });
    await expect(prepareBind({ host: '0.0.0.0', what: 'the station', insecureNoTls: true })).resolves.toBeUndefined();
  });

  it('names a TLS file it cannot read or use before anything listens', async () => {
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'not PEM\n');
    await expect(prepareBind({ host: '0.0.0.0', what: 'the station', tlsCertFile: join(dir, 'none.pem'), tlsKeyFile: junk }))
      .rejects.toMatchObject({ message: expect.stringMatching(/Cannot read the TLS certificate .*none\.pem: it does not exist\./) });
    await expect(prepareBind({ host: '0.0.0.0', what: 'the station', tlsCertFile: junk, tlsKeyFile: junk }))
      .rejects.toMatchObject({ message: expect.stringMatching(/junk\.pem and key .*junk\.pem do not make a usable pair/) });
    await expect(prepareBind({ host: '0.0.0.0', what: 'the station', tlsKeyFile: junk }))
      .rejects.toMatchObject({ message: 'TLS needs both --tls-cert FILE and --tls-key FILE.' });
  });

  it('takes a --public-name only as a bare name or address: a scheme, port or path would never match a Host', async () => {
    const bind = (publicNames: string[]) => prepareBind({ host: '127.0.0.1', what: 'the station', publicNames });
    await expect(bind(['bench7.lan', 'bench7', 'BENCH-7.example.com.', '192.168.1.5', 'fd00::5', '[fd00::5]'])).resolves.toBeUndefined();
    for (const bad of ['https://bench7.lan', 'bench7.lan:3001', 'bench7.lan/ui', '', 'bench 7', '-bench7', 'bench7..lan', '*.lan']) {
      await expect(bind([bad]), bad).rejects.toMatchObject({
        code: 'bad_request', message: expect.stringContaining(`--public-name ${JSON.stringify(bad)} is not a host name or address`),
      });
    }
  });

  it('prints a name clients can use: the bound address, or for a wildcard the first public name, else 127.0.0.1', () => {
    expect(shownHost('127.0.0.1')).toBe('127.0.0.1');
    expect(shownHost('192.168.1.5', ['bench7.lan'])).toBe('192.168.1.5');
    expect(shownHost('::1')).toBe('[::1]');
    expect(shownHost('0.0.0.0', ['bench7.lan', 'other.lan'])).toBe('bench7.lan');
    expect(shownHost('::', [])).toBe('127.0.0.1');
    expect(shownHost('0.0.0.0', ['fd00::5'])).toBe('[fd00::5]');
    expect(pageUrl('0.0.0.0', ['bench7.lan'], 3001, true, 'a+b/c')).toBe('https://bench7.lan:3001/?token=a%2Bb%2Fc');
    expect(pageUrl('::1', [], 3002, false, 't')).toBe('http://[::1]:3002/?token=t');
  });
});
