// Clients written from the guide alone: its "Simulate Flash Progress" Python script (with a token) shows up in other
// clients; without the token it is refused and nothing is rebroadcast; the guide's wscat-style ping gets a pong.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startHarness, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

// The guide's script, as written there, plus the token in the URI and the `import time` it forgot; sleeps shortened.
const GUIDE_SCRIPT = `
import asyncio
import websockets
import json
import sys
import time

async def simulate_flash():
    uri = sys.argv[1]
    async with websockets.connect(uri) as websocket:
        # Start flash
        await websocket.send(json.dumps({
            "type": "flash_started",
            "jobId": "test_job_123",
            "deviceId": "TEST_DEVICE",
            "totalBytes": 1000000,
            "timestamp": int(time.time() * 1000)
        }))

        # Simulate progress
        for i in range(0, 101, 10):
            await asyncio.sleep(0.02)
            await websocket.send(json.dumps({
                "type": "flash_progress",
                "jobId": "test_job_123",
                "deviceId": "TEST_DEVICE",
                "progress": i,
                "stage": f"Writing... {i}%",
                "bytesTransferred": i * 10000,
                "totalBytes": 1000000,
                "transferSpeed": 10000,
                "estimatedTimeRemaining": (100 - i),
                "timestamp": int(time.time() * 1000)
            }))

        # Complete
        await websocket.send(json.dumps({
            "type": "flash_completed",
            "jobId": "test_job_123",
            "deviceId": "TEST_DEVICE",
            "timestamp": int(time.time() * 1000)
        }))
        # Collect what the station answered before leaving (until it has been quiet for 2 s: on a busy machine its
        # answers can trail the last frame by more than the half second this waited before).
        answers = []
        try:
            while True:
                answers.append(json.loads(await asyncio.wait_for(websocket.recv(), 2.0)))
        except asyncio.TimeoutError:
            pass
        print(json.dumps([a["type"] + ":" + a.get("code", "") for a in answers]))

asyncio.run(simulate_flash())
`;

function python(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [script, ...args], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('the guide\'s Simulate Flash Progress script', () => {
  it('with a token, its job shows up in other clients, in order, and in the station\'s jobs', async () => {
    const script = join(h.dir, 'simulate.py');
    await writeFile(script, GUIDE_SCRIPT);
    const watcher = await connect(h.url);
    const from = watcher.frames.length;
    const out = await python(script, [`${h.url}?token=${h.token}`]);
    await watcher.next((m) => m.type === 'flash_completed' && m.jobId === 'test_job_123', 10_000, from);
    const seen = watcher.frames.slice(from).filter((m) => 'jobId' in m && m.jobId === 'test_job_123').map((m) => m.type);
    expect(seen[0]).toBe('flash_started');
    expect(seen.filter((t) => t === 'flash_progress')).toHaveLength(11);
    expect(seen.at(-1)).toBe('flash_completed');
    expect(watcher.invalid).toEqual([]);
    const answers = JSON.parse(out) as string[];
    expect(answers.filter((a) => a.startsWith('error'))).toEqual([]);
    expect(h.station.job('test_job_123')?.state).toBe('completed');
    watcher.close();
  });

  it('without the token, it is refused with unauthorized errors and nothing reaches other clients', async () => {
    const script = join(h.dir, 'simulate2.py');
    await writeFile(script, GUIDE_SCRIPT.replaceAll('test_job_123', 'anon_job'));
    const watcher = await connect(h.url);
    const out = await python(script, [h.url]);
    const answers = JSON.parse(out) as string[];
    expect(answers).toContain('error:unauthorized');
    await new Promise((r) => setTimeout(r, 200));
    expect(watcher.frames.some((m) => 'jobId' in m && m.jobId === 'anon_job')).toBe(false);
    watcher.close();
  });

  it('answers the guide\'s manual ping', async () => {
    const script = join(h.dir, 'ping.py');
    await writeFile(script, `
import asyncio, json, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send(json.dumps({"type": "ping", "timestamp": 1703001234567}))
        while True:
            m = json.loads(await ws.recv())
            if m["type"] == "pong":
                print(json.dumps(m)); return
asyncio.run(main())
`);
    const pong = JSON.parse(await python(script, [h.url])) as { type: string; timestamp: number };
    expect(pong.type).toBe('pong');
    expect(pong.timestamp).toBeGreaterThan(1703001234567);
  });
});
