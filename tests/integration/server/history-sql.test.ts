// SQL metacharacters in every value a client can put into a history query (issue 15's probe class): device and batch
// filters over REST, the CSV export and get_history, job ids over REST and get_job_logs. Each is an exact match — no
// quote, comment, UNION or LIKE wildcard widens it — and nothing a client sends changes the database.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StationClient, type WebSocketConstructor } from '../../../src/client/index.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { until } from '../../helpers/until.js';

const PROBES = [
  "' OR '1'='1",
  "SQLA001' --",
  "SQLA001' OR 1=1 --",
  "SQLA001'/*",
  '" OR ""="',
  "'; DROP TABLE jobs; --",
  "') UNION SELECT * FROM jobs --",
  '%', 'SQL%', '_QLA001', 'SQLA00_', '*', '\\', "\\'", 'SQLA001\0', 'sqla001',
];

let dir: string;
let s: LaunchedStation;
let client: StationClient;
let http: string;
const jobIds: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-sql-'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, block: false, staticDir: join(dir, 'no-ui'),
    sims: ['fastboot:SQLA001?partitions=boot:1M', 'fastboot:SQLB001?partitions=boot:1M'],
  });
  http = `http://127.0.0.1:${s.port}`;
  client = new StationClient({ url: s.url, token: s.token, WebSocket: WebSocket as unknown as WebSocketConstructor });
  await client.connect();
  const image = join(dir, 'boot.img');
  await writeFile(image, Buffer.alloc(64 * 1024, 0xa5));
  for (const deviceId of ['SQLA001', 'SQLB001']) {
    const { jobId } = await s.station.startFlash({ deviceId, partition: 'boot', image });
    jobIds.push(jobId);
    await until(() => s.station.history({ limit: 10 }).some((j) => j.jobId === jobId && j.state === 'completed'), 20_000, `job ${jobId} completed`);
  }
});
afterAll(async () => {
  client?.close();
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

async function rest(path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${http}${path}`);
  return { status: r.status, body: await r.text() };
}

async function socketHistory(filter: Record<string, string>): Promise<string[]> {
  const answer = await client.exchange({ type: 'get_history', limit: 50, ...filter } as never);
  if (answer.type !== 'result' || !answer.ok) throw new Error(`get_history ${JSON.stringify(filter)}: ${JSON.stringify(answer)}`);
  return (answer as unknown as { jobs: Array<{ jobId: string }> }).jobs.map((j) => j.jobId);
}

describe('SQL metacharacters in history queries', () => {
  it('the filters match exactly: the real id finds its one job', async () => {
    expect(JSON.parse((await rest('/api/history?deviceId=SQLA001')).body)).toEqual([expect.objectContaining({ jobId: jobIds[0] })]);
    expect(await socketHistory({ deviceId: 'SQLA001' })).toEqual([jobIds[0]]);
    expect(await socketHistory({})).toHaveLength(2);
  });

  it('a device or batch filter made of quotes, comments, UNION or wildcards finds nothing, over REST, CSV and the socket', async () => {
    for (const probe of PROBES) {
      for (const key of ['deviceId', 'batchId']) {
        const q = `${key}=${encodeURIComponent(probe)}`;
        const json = await rest(`/api/history?${q}`);
        expect(json.status, `${q}: ${json.body}`).toBe(200);
        expect(JSON.parse(json.body), q).toEqual([]);
        const csv = await rest(`/api/history.csv?${q}`);
        expect(csv.status, q).toBe(200);
        expect(csv.body.trim().split('\n'), q).toHaveLength(1); // the header row only
        expect(await socketHistory({ [key]: probe }), `${key} ${JSON.stringify(probe)}`).toEqual([]);
      }
    }
  });

  it('a job id made of them names no job, over REST and get_job_logs', async () => {
    for (const probe of PROBES) {
      const r = await rest(`/api/jobs/${encodeURIComponent(probe)}`);
      expect(r.status, probe).toBe(404);
      expect(JSON.parse(r.body), probe).toMatchObject({ error: { code: 'job_not_found' } });
      const logs = await client.exchange({ type: 'get_job_logs', jobIds: [probe] } as never);
      expect(logs, probe).toMatchObject({ type: 'result', ok: true });
      expect(Object.values((logs as unknown as { logs: Record<string, unknown[]> }).logs).flat(), probe).toEqual([]);
    }
  });

  it('leaves the history as it was: both jobs, each still found by its device', async () => {
    expect(s.station.history({ limit: 50 }).map((j) => j.jobId).sort()).toEqual([...jobIds].sort());
    expect(await socketHistory({ deviceId: 'SQLB001' })).toEqual([jobIds[1]]);
  });
});
