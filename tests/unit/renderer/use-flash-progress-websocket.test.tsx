// @vitest-environment happy-dom
// The guide's hook itself, rendered with React DOM, against a real `ws` server: connection state, jobs from the
// snapshot and events, reconnect counting up to maxReconnectAttempts, clearJob, autoConnect, desktop notifications,
// and the state after the station comes back.
import { afterEach, describe, expect, it } from 'vitest';
import { createRoot, type Root } from 'react-dom/client';
import { WebSocket as WsWebSocket } from 'ws';
import { useFlashProgressWebSocket, type UseFlashProgressWebSocketOptions, type UseFlashProgressWebSocketResult } from '../../../src/renderer/hooks/use-flash-progress-websocket.js';
import { StationFixture, device, job, until as untilTrue } from './ws-fixture.js';

/** Like `until`, but a check that throws (nothing rendered yet) counts as not yet. */
const until = (check: () => boolean, what: string, ms?: number) =>
  untilTrue(() => {
    try {
      return check();
    } catch {
      return false;
    }
  }, what, ms);

// The browser's WebSocket in the page; here the `ws` client, which has the same event-handler API.
(globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket;

let latest: UseFlashProgressWebSocketResult | null = null;
const roots: Root[] = [];
const fixtures: StationFixture[] = [];

function Probe(props: UseFlashProgressWebSocketOptions) {
  latest = useFlashProgressWebSocket(props);
  return null;
}

function mount(options: UseFlashProgressWebSocketOptions): void {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  root.render(<Probe {...options} />);
}

const hook = (): UseFlashProgressWebSocketResult => {
  if (!latest) throw new Error('not rendered');
  return latest;
};

async function fixture() {
  const fx = new StationFixture({ devices: [device('SIM0001')], jobs: [job('j1', 'SIM0001'), job('j2', 'SIM0001', { state: 'completed', progress: 100 })] });
  fixtures.push(fx);
  await fx.start();
  return fx;
}

afterEach(async () => {
  for (const r of roots.splice(0)) r.unmount();
  latest = null;
  await new Promise((r) => setTimeout(r, 10));
  for (const fx of fixtures.splice(0)) await fx.stop();
});

/** True when A and B are the same union of keys (checked by `tsc --noEmit`, which covers tests). */
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const GUIDE_OPTIONS = ['url', 'reconnectDelay', 'maxReconnectAttempts', 'enableNotifications', 'autoConnect'] as const;
const GUIDE_RESULT = ['isConnected', 'connectionStatus', 'reconnectAttempts', 'lastMessageTime', 'activeJobs', 'connect', 'disconnect', 'send', 'clearJob', 'clearAllJobs'] as const;
const optionsAreTheGuides: SameKeys<keyof UseFlashProgressWebSocketOptions, (typeof GUIDE_OPTIONS)[number]> = true;
const resultIsTheGuides: SameKeys<keyof UseFlashProgressWebSocketResult, (typeof GUIDE_RESULT)[number]> = true;

describe('useFlashProgressWebSocket', () => {
  it('has exactly the guide’s options and return value', async () => {
    expect(optionsAreTheGuides && resultIsTheGuides).toBe(true);
    const fx = await fixture();
    const every: Required<UseFlashProgressWebSocketOptions> = { url: fx.url, reconnectDelay: 100, maxReconnectAttempts: 3, enableNotifications: false, autoConnect: true };
    expect(Object.keys(every)).toEqual([...GUIDE_OPTIONS]);
    mount(every);
    await until(() => hook().isConnected, 'connected');
    expect(Object.keys(hook()).sort()).toEqual([...GUIDE_RESULT].sort());
    expect(typeof hook().lastMessageTime).toBe('number');
    expect(hook().activeJobs).toBeInstanceOf(Map);
  });

  it('connects and exposes the jobs of the snapshot and of later events', async () => {
    const fx = await fixture();
    mount({ url: fx.url, reconnectDelay: 50, maxReconnectAttempts: 3 });
    await until(() => latest?.isConnected === true && hook().activeJobs.size === 2, 'connected with jobs');
    expect(hook().connectionStatus).toBe('connected');
    expect(hook().lastMessageTime).toBeGreaterThan(0);
    fx.broadcast({ type: 'flash_failed', jobId: 'j1', deviceId: 'SIM0001', error: 'USB connection lost', timestamp: Date.now() });
    await until(() => hook().activeJobs.get('j1')?.state === 'failed', 'failed');
    expect(hook().activeJobs.get('j1')?.error).toBe('USB connection lost');
    expect(hook().send({ type: 'ping', timestamp: 1 })).toBe(true);
    await until(() => fx.received.some((m) => m.type === 'ping'), 'ping received');
  });

  it('clearJob and clearAllJobs empty activeJobs', async () => {
    const fx = await fixture();
    mount({ url: fx.url });
    await until(() => hook().activeJobs.size === 2, 'jobs');
    hook().clearJob('j2');
    await until(() => !hook().activeJobs.has('j2'), 'j2 cleared');
    expect(hook().activeJobs.has('j1')).toBe(true);
    hook().clearAllJobs();
    await until(() => hook().activeJobs.size === 0, 'all cleared');
  });

  it('counts reconnect attempts up to maxReconnectAttempts, then reports failure', async () => {
    const fx = await fixture();
    mount({ url: fx.url, reconnectDelay: 40, maxReconnectAttempts: 2 });
    await until(() => latest?.isConnected === true, 'connected');
    await fx.stop();
    await fx.startRefusing();
    await until(() => hook().connectionStatus === 'failed', 'failed', 8000);
    expect(hook().reconnectAttempts).toBe(2);
    expect(hook().isConnected).toBe(false);
    expect(fx.refusedUpgrades).toBe(2);
  });

  it('rebuilds from hello/snapshot after the station comes back, and resets the attempt count', async () => {
    const fx = await fixture();
    mount({ url: fx.url, reconnectDelay: 60, maxReconnectAttempts: 50 });
    await until(() => hook().activeJobs.size === 2, 'jobs');
    await fx.stop();
    await until(() => hook().reconnectAttempts >= 1, 'reconnecting');
    expect(hook().isConnected).toBe(false);
    fx.state = { devices: [device('SIM0001')], jobs: [job('j1', 'SIM0001', { progress: 80, bytesTransferred: 800 }), job('j3', 'SIM0001', { state: 'queued' })] };
    await fx.start();
    await until(() => hook().isConnected && hook().activeJobs.has('j3'), 'reconnected', 8000);
    expect(hook().reconnectAttempts).toBe(0);
    expect(hook().activeJobs.get('j1')?.progress).toBe(80);
    expect(hook().activeJobs.get('j2')?.state).toBe('completed');
  });

  it('with enableNotifications, notifies on completion and failure (asking permission first); without, never', async () => {
    const shown: Array<{ title: string; body: string | undefined }> = [];
    let asked = 0;
    class FakeNotification {
      static permission: NotificationPermission = 'default';
      static requestPermission = async (): Promise<NotificationPermission> => {
        asked++;
        FakeNotification.permission = 'granted';
        return 'granted';
      };
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body });
      }
    }
    const saved = (globalThis as { Notification?: unknown }).Notification;
    (globalThis as { Notification?: unknown }).Notification = FakeNotification;
    try {
      const quiet = await fixture();
      mount({ url: quiet.url });
      await until(() => hook().isConnected, 'connected without notifications');
      quiet.broadcast({ type: 'flash_completed', jobId: 'j1', deviceId: 'SIM0001', timestamp: Date.now() });
      await until(() => hook().activeJobs.get('j1')?.state === 'completed', 'completed');
      expect(shown).toEqual([]);
      expect(asked).toBe(0);

      const fx = await fixture();
      mount({ url: fx.url, enableNotifications: true });
      await until(() => asked === 1 && latest?.isConnected === true && hook().activeJobs.get('j1')?.state === 'running', 'connected with notifications');
      fx.broadcast({ type: 'flash_progress', jobId: 'j1', deviceId: 'SIM0001', progress: 50, bytesTransferred: 500, totalBytes: 1000, transferSpeed: 1, estimatedTimeRemaining: 1, stage: 'x', timestamp: Date.now() });
      fx.broadcast({ type: 'flash_completed', jobId: 'j1', deviceId: 'SIM0001', timestamp: Date.now() });
      fx.broadcast({ type: 'flash_failed', jobId: 'j4', deviceId: 'SIM0001', error: 'USB connection lost', reason: 'error', timestamp: Date.now() });
      await until(() => shown.length === 2, 'two notifications');
      expect(shown).toEqual([
        { title: 'Flash completed', body: 'Device SIM0001 — job j1' },
        { title: 'Flash failed', body: 'Device SIM0001: USB connection lost' },
      ]);
    } finally {
      (globalThis as { Notification?: unknown }).Notification = saved;
    }
  });

  it('with autoConnect false waits for connect()', async () => {
    const fx = await fixture();
    mount({ url: fx.url, autoConnect: false });
    await new Promise((r) => setTimeout(r, 150));
    expect(hook().isConnected).toBe(false);
    expect(fx.clientCount).toBe(0);
    hook().connect();
    await until(() => hook().isConnected, 'connected after connect()');
    hook().disconnect();
    await until(() => hook().connectionStatus === 'disconnected', 'disconnected');
    await until(() => fx.clientCount === 0, 'server saw the close');
  });
});
