// `serve --outside-silence SECONDS` (issue 15, defect 8): the time after which a silent outside job ends as lost is
// the station's to configure, not a constant. Through launchStation as serve passes it; serve refuses a bad value.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCommand } from '../../../src/cli/commands/serve.js';
import { EXIT } from '../../../src/cli/io.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import type { ResultMessage } from '../../../src/protocol/messages.js';
import { connect } from './helpers/harness.js';

let dir: string;
let s: LaunchedStation;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-silence-'));
  s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, block: false, outsideSilenceMs: 1000 });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('serve --outside-silence', () => {
  it('ends an outside job silent for the configured time as lost, and a late progress does not revive it', async () => {
    const agent = await connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
    const watcher = await connect(s.url);
    const from = watcher.frames.length;
    const r = (await agent.request({ type: 'flash_started', jobId: 'quiet1', deviceId: 'EXT', stage: 'Writing', totalBytes: 10, timestamp: 1 })) as ResultMessage;
    expect(r.ok).toBe(true);
    const lost = await watcher.next((m) => m.type === 'flash_failed' && m.jobId === 'quiet1', 5000, from);
    expect(lost).toMatchObject({ code: 'lost', error: expect.stringContaining('for 1 s') });
    const late = (await agent.request({
      type: 'flash_progress', jobId: 'quiet1', deviceId: 'EXT', progress: 50, stage: 'Writing', bytesTransferred: 5, totalBytes: 10,
      transferSpeed: 1, estimatedTimeRemaining: 5, timestamp: 2,
    })) as ResultMessage;
    expect(late).toMatchObject({ ok: false, error: { code: 'invalid_state' } });
    expect(s.station.job('quiet1')).toMatchObject({ state: 'failed', errorCode: 'lost' });
    agent.close();
    watcher.close();
  });

  it('serve refuses a value that is not 1–86400 seconds before starting anything', async () => {
    for (const bad of ['0', '-5', 'soon', '1e9']) {
      let err = '';
      const code = await serveCommand(['--port', '0', `--outside-silence=${bad}`], {
        stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) }, env: {}, onSignal: () => () => undefined,
      });
      expect(code).toBe(EXIT.usage);
      expect(err).toMatch(/--outside-silence must be 1–86400 seconds/);
    }
  });
});
