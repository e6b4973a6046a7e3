// @vitest-environment happy-dom
// Device tiles show the station's per-port state at a glance (done — unplug, failed and why, flashing, waiting) and
// the per-port counters, and offer a New job action that makes the device the only target.
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { DeviceTile, type DeviceTileProps } from '../../../src/renderer/components/device-tile.js';
import type { Device } from '../../../src/protocol/messages.js';
import { device } from './ws-fixture.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
const roots: Root[] = [];

function render(props: Partial<DeviceTileProps> & { device: Device }): HTMLElement {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  const calls = (el as unknown as { calls: string[] }).calls = [] as string[];
  act(() =>
    root.render(
      <DeviceTile
        jobState={undefined}
        jobPercent={0}
        selected={false}
        onSelect={(id, on) => calls.push(`select ${id} ${on}`)}
        onNewJob={(id) => calls.push(`new ${id}`)}
        {...props}
      />,
    ),
  );
  return el;
}

const withInfo = (info: Device['info'], state: Device['state'] = 'idle'): Device => ({ ...device('P1', state), port: 'usb:1-2', info });
const article = (el: HTMLElement) => el.querySelector('article') as HTMLElement;
const status = (el: HTMLElement) => el.querySelector('.tile-status')?.textContent ?? '';

afterEach(() => {
  for (const r of roots.splice(0)) act(() => r.unmount());
  document.body.innerHTML = '';
});

describe('device tile', () => {
  it('says Done — unplug in green with the per-port counters', () => {
    const el = render({ device: withInfo({ station: 'done', stationMessage: 'Done — unplug', stationSucceeded: 7, stationFailed: 2 }) });
    expect(status(el)).toContain('Done — unplug');
    expect(article(el).dataset.port).toBe('ok');
    expect(el.querySelector('.tile-counters')?.textContent).toMatch(/7 succeeded, 2 failed/);
  });

  it('says Failed in red with the reason', () => {
    const el = render({ device: withInfo({ station: 'failed', stationMessage: 'Failed — The device refused "flash:boot"', stationFailed: 1 }) });
    expect(article(el).dataset.port).toBe('bad');
    expect(status(el)).toContain('Failed');
    expect(el.querySelector('.tile-status-detail')?.textContent).toBe('The device refused "flash:boot"');
  });

  it('says Flashing with the percentage, and Waiting with the queue position', () => {
    const flashing = render({ device: withInfo({}, 'busy'), jobState: 'running', jobPercent: 45 });
    expect(status(flashing)).toContain('Flashing · 45%');
    expect(article(flashing).dataset.port).toBe('busy');
    const waiting = render({ device: withInfo({}), jobState: 'queued', jobPercent: 0, queuePosition: 3 });
    expect(status(waiting)).toContain('Waiting · #3 in queue');
    const paused = render({ device: withInfo({}, 'busy'), jobState: 'paused', jobPercent: 12 });
    expect(status(paused)).toContain('Paused · 12%');
    // A live job wins over an old done mark.
    const again = render({ device: withInfo({ station: 'done', stationMessage: 'Done — unplug' }, 'busy'), jobState: 'running', jobPercent: 1 });
    expect(status(again)).not.toContain('Done');
  });

  it('describes the tile by its status and names its actions by the device id', () => {
    const el = render({ device: withInfo({ station: 'done', stationMessage: 'Done — unplug' }) });
    const described = article(el).getAttribute('aria-describedby') ?? '';
    expect(el.querySelector(`[id="${described}"]`)?.textContent).toContain('Done — unplug');
    const names = [...el.querySelectorAll('button')].map((b) => b.textContent);
    expect(names).toEqual(['New job for P1', 'Select P1']);
    // Contract §6: no other button may carry the word Flash.
    for (const n of names) expect(n).not.toMatch(/flash/i);
  });

  it('New job selects only this device', () => {
    const el = render({ device: withInfo({}) });
    act(() => (el.querySelector('.tile-new-job') as HTMLButtonElement).click());
    expect((el as unknown as { calls: string[] }).calls).toEqual(['new P1']);
  });

  it('shows a device of another family by its family and its own facts', () => {
    const esp: Device = {
      id: '246F28A1B2C3', protocol: 'esp', transport: 'serial', name: 'ESP32', serial: '246F28A1B2C3', port: '/dev/ttyUSB0', state: 'idle',
      info: { chip: 'ESP32-D0WD-V3', flash_size: 4 * 1024 * 1024, mac: '24:6f:28:a1:b2:c3', baud: 460800 }, targets: ['address', 'partition'],
    };
    const el = render({ device: esp });
    expect(el.querySelector('.tile-transport')?.textContent).toBe('esp · serial');
    const facts = Object.fromEntries([...el.querySelectorAll('.tile-facts > div')].map((d) => [d.querySelector('dt')?.textContent, d.querySelector('dd')?.textContent]));
    expect(facts).toMatchObject({ Product: 'ESP32', Chip: 'ESP32-D0WD-V3', Flash: '4.00 MiB', MAC: '24:6f:28:a1:b2:c3', Port: '/dev/ttyUSB0' });
    expect(facts).not.toHaveProperty('baud');
    const sd: Device = {
      id: 'usb-SD-1', protocol: 'block', transport: 'block', name: 'Generic SD (29.7 GiB)', serial: '', state: 'idle',
      info: { path: '/dev/sdb', capacity: 31_914_983_424, removable: true }, targets: ['whole'],
    };
    const block = render({ device: sd });
    expect(block.querySelectorAll('.tile-transport')[0]?.textContent).toBe('block');
    const blockFacts = [...block.querySelectorAll('.tile-facts dd')].map((d) => d.textContent);
    expect(blockFacts).toEqual(['Generic SD (29.7 GiB)', '—', '29.7 GiB', 'yes']);
  });
});
