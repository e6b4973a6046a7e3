// The UI's static files: never a source map, never a file a symlink leads to outside the UI folder, and a header
// CSP that says what the page's own meta CSP says (issue 15, defect 10).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentSecurityPolicy, serveStatic } from '../../../src/server/static-files.js';
import { openFilesUnder } from '../../helpers/open-files.js';
import { until } from '../../helpers/until.js';

let dir: string;
let server: Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fs-static-'));
  const ui = join(dir, 'ui');
  mkdirSync(join(ui, 'assets'), { recursive: true });
  writeFileSync(join(ui, 'index.html'), '<!doctype html><title>ui</title>');
  writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(ui, 'assets', 'big.wasm'), Buffer.alloc(16 << 20));
  writeFileSync(join(ui, 'assets', 'app.js.map'), '{"sources":["secret.ts"]}');
  writeFileSync(join(dir, 'outside.txt'), 'not for the browser');
  symlinkSync(join(dir, 'outside.txt'), join(ui, 'assets', 'link.txt'));
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    void serveStatic(req, res, path, ui, `127.0.0.1:${port}`).then((served) => {
      if (!served) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const fetchStatus = (path: string): Promise<{ status: number; csp: string | undefined }> =>
  new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, csp: res.headers['content-security-policy'] as string | undefined });
    }).on('error', reject);
  });

describe('serveStatic', () => {
  it('serves the UI and its assets', async () => {
    expect((await fetchStatus('/')).status).toBe(200);
    expect((await fetchStatus('/assets/app.js')).status).toBe(200);
  });

  it('never serves a source map', async () => {
    expect((await fetchStatus('/assets/app.js.map')).status).toBe(404);
  });

  it('closes the file when the client goes away in the middle of it', async () => {
    // pipe() left the read stream paused, its file open for good, once the response was destroyed.
    await new Promise<void>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: '/assets/big.wasm' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      }).on('error', (e) => (req.destroyed ? undefined : reject(e)));
    });
    await until(() => openFilesUnder(dir).length === 0, 3000, 'the asset file closed');
  });

  it('refuses a symlink that leads outside the UI folder', async () => {
    expect((await fetchStatus('/assets/link.txt')).status).toBe(404);
  });

  it('sends a CSP whose style-src and form-action match the page meta CSP', async () => {
    const { csp } = await fetchStatus('/');
    const meta = /content="([^"]+)"/.exec(readFileSync(join(__dirname, '../../../src/renderer/index.html'), 'utf8').split('Content-Security-Policy')[1] ?? '')?.[1] ?? '';
    const directive = (policy: string, name: string): string | undefined => policy.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
    for (const name of ['default-src', 'script-src', 'style-src', 'img-src', 'font-src', 'object-src', 'base-uri', 'form-action']) {
      expect(directive(csp ?? '', name), name).toBe(directive(meta, name));
    }
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(contentSecurityPolicy('h:1', true)).toMatch(/connect-src 'self' wss:\/\/h:1 https:\/\/h:1/);
  });
});
