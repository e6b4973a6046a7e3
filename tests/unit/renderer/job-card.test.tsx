// @vitest-environment happy-dom
// A job card in every state, held to contract §6: a region named after the job and its device, a progressbar with
// aria-valuenow 0–100, the visible state word, Pause / Resume / Cancel exactly when they apply; plus speed, ETA,
// bytes, stage, the error, and the job's log panel.
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { JobCard, type JobAction } from '../../../src/renderer/components/job-card.js';
import type { ActiveJob, LogEntry } from '../../../src/renderer/lib/station-state.js';
import type { JobState } from '../../../src/protocol/messages.js';
import { job } from './ws-fixture.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
const roots: Root[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) act(() => r.unmount());
  document.body.innerHTML = '';
});

function render(j: ActiveJob, logs?: LogEntry[]): { el: HTMLElement; actions: string[] } {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  const actions: string[] = [];
  act(() =>
    root.render(
      <JobCard
        job={j}
        logs={logs}
        onAction={async (a: JobAction, id: string) => void actions.push(`${a} ${id}`)}
        onClear={(id) => actions.push(`clear ${id}`)}
      />,
    ),
  );
  return { el, actions };
}

const active = (state: JobState, patch: Partial<ActiveJob> = {}): ActiveJob => ({ ...job('J1', 'DEV1', { state, ...patch }), updatedAt: 0 });
const buttons = (el: HTMLElement) => [...el.querySelectorAll('button')].map((b) => b.textContent?.trim());

describe('job card', () => {
  it.each([
    ['queued', 'Queued', ['Cancel']],
    ['running', 'Running', ['Pause', 'Cancel']],
    ['paused', 'Paused', ['Resume', 'Cancel']],
    ['completed', 'Completed', ['Dismiss']],
    ['failed', 'Failed', ['Dismiss']],
    ['cancelled', 'Cancelled', ['Dismiss']],
  ] as const)('%s: shows the word %s and offers %j', (state, word, offered) => {
    const { el } = render(active(state, { progress: 42.4 }));
    const region = el.querySelector('section') as HTMLElement;
    expect(region.getAttribute('aria-label')).toBe('Job J1 on device DEV1');
    const bar = region.querySelector('[role="progressbar"]') as HTMLElement;
    expect(bar.getAttribute('aria-valuenow')).toBe('42');
    expect(bar.getAttribute('aria-valuemin')).toBe('0');
    expect(bar.getAttribute('aria-valuemax')).toBe('100');
    expect(region.querySelector('.state-badge')?.textContent).toBe(word);
    expect(buttons(el)).toEqual(offered);
  });

  it('keeps aria-valuenow within 0–100 whatever the station sends', () => {
    expect(render(active('running', { progress: 140 })).el.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')).toBe('100');
    expect(render(active('running', { progress: -3 })).el.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')).toBe('0');
  });

  it('a running job shows speed, ETA, bytes and stage; its buttons send pause and cancel for this job', async () => {
    const { el, actions } = render(active('running', { transferSpeed: 20 * 1024 * 1024, estimatedTimeRemaining: 75, bytesTransferred: 10 * 1024 * 1024, totalBytes: 40 * 1024 * 1024, stage: 'Writing system_a (piece 2)' }));
    const text = el.textContent ?? '';
    expect(text).toContain('20.0 MiB/s');
    expect(text).toContain('1 min 15 s');
    expect(text).toContain('10.0 MiB / 40.0 MiB');
    expect(text).toContain('Writing system_a (piece 2)');
    await act(async () => {
      [...el.querySelectorAll('button')].find((b) => b.textContent === 'Pause')?.click();
      await Promise.resolve();
    });
    await act(async () => {
      [...el.querySelectorAll('button')].find((b) => b.textContent === 'Cancel')?.click();
      await Promise.resolve();
    });
    expect(actions).toEqual(['pause_flash J1', 'cancel_flash J1']);
  });

  it('names the image by its file name, the full path in the title', () => {
    const { el } = render(active('running', { target: 'system ← /srv/builds/2026-11-25/sargo/system.img' }));
    const target = el.querySelector('.job-target') as HTMLElement;
    expect(target.textContent).toBe('system ← system.img');
    expect(target.title).toBe('system ← /srv/builds/2026-11-25/sargo/system.img');
    expect(render(active('running', { target: 'Factory image sargo-qq3a' })).el.querySelector('.job-target')?.textContent).toBe('Factory image sargo-qq3a');
    expect(render(active('running', { target: 'boot ← C:\\images\\boot.img' })).el.querySelector('.job-target')?.textContent).toBe('boot ← boot.img');
  });

  it('a failed job shows its error as an alert with the code', () => {
    const { el } = render(active('failed', { error: 'The device refused "flash:boot": no such partition', errorCode: 'device_rejected' }));
    const alert = el.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain('The device refused "flash:boot": no such partition');
    expect(alert?.textContent).toContain('(device_rejected)');
  });

  it('a cancelled job shows no error, unless the cancel left a download half-sent and the station says so', () => {
    expect(render(active('cancelled', { error: 'Cancelled', errorCode: 'cancelled' })).el.querySelector('[role="alert"]')).toBeNull();
    const halfSent = 'Cancelled — the download of system_a, piece 2 was left half-sent at byte 1048576 of 4194304 (timeout); reboot the device into fastboot before using it again';
    expect(render(active('cancelled', { error: halfSent, errorCode: 'cancelled' })).el.querySelector('[role="alert"]')?.textContent).toContain('left half-sent at byte 1048576');
  });

  it('has a log panel listing the job’s lines with their level', () => {
    const logs: LogEntry[] = [
      { level: 'info', message: 'Writing boot.img to boot_a: 4.00 MiB of data', timestamp: 1_700_000_000_000 },
      { level: 'error', message: 'The device refused "flash:boot_a"', timestamp: 1_700_000_001_000 },
    ];
    const { el } = render(active('failed'), logs);
    expect(el.querySelector('details.job-log summary')?.textContent).toBe('Log (2)');
    const list = el.querySelector('ol[aria-label="Log of job J1"]') as HTMLElement;
    const items = [...list.querySelectorAll('li')];
    expect(items.map((li) => li.className)).toEqual(['log-info', 'log-error']);
    expect(items[0]?.textContent).toContain('Writing boot.img to boot_a');
  });
});
