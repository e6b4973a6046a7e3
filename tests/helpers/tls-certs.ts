// A local CA and a station certificate made by the OpenSSL commands docs/security.md gives for a LAN station, run as
// written there with only the example names (bench7.lan, 192.168.1.5) replaced: if the documented commands stop
// working, every TLS test fails.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { get as httpGet } from 'node:http';

const SECURITY_DOC = resolve(import.meta.dirname, '../../docs/security.md');

/** The shell block under "Making a certificate for a LAN station" in docs/security.md. */
export function documentedCertificateCommands(): string {
  const doc = readFileSync(SECURITY_DOC, 'utf8');
  const at = doc.indexOf('Making a certificate for a LAN station');
  if (at < 0) throw new Error('docs/security.md has no "Making a certificate for a LAN station"');
  const block = /```sh\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!block?.[1]?.includes('openssl')) throw new Error('no openssl block after "Making a certificate for a LAN station"');
  return block[1];
}

export interface Certificates {
  /** PEM of the CA, to trust in clients (`--ca`). */
  ca: Buffer;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Runs the documented commands in `dir` for a station reached as `dnsName` and `ip`. */
export function makeDocumentedCertificates(dir: string, dnsName = 'localhost', ip = '127.0.0.1'): Certificates {
  const script = documentedCertificateCommands().replaceAll('bench7.lan', dnsName).replaceAll('192.168.1.5', ip);
  execFileSync('sh', ['-e', '-c', script], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return { ca: readFileSync(join(dir, 'ca.pem')), caFile: join(dir, 'ca.pem'), certFile: join(dir, 'station.pem'), keyFile: join(dir, 'station.key') };
}

/** A plain-HTTP GET (no TLS) to a port: the status and body it got. */
export function plainHttp(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

