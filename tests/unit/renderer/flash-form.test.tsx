// @vitest-environment happy-dom
// The flash form sends what the user chose: image and partition or a plan, one target (deviceId) or many (deviceIds),
// verify when ticked. In a browser tab the image is a path field; in Electron a Browse… button opens the native
// dialog (through the preload bridge) and fills the path in.
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { FlashForm } from '../../../src/renderer/components/flash-form.js';
import type { Device, StartFlashCommand } from '../../../src/protocol/messages.js';
import type { ImageDialogOptions } from '../../../src/renderer/lib/desktop-bridge.js';
import { device } from './ws-fixture.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
const roots: Root[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) act(() => r.unmount());
  document.body.innerHTML = '';
  delete (globalThis as { flashStation?: unknown }).flashStation;
});

function render(devices: Device[], selected: string[]): { el: HTMLElement; sent: StartFlashCommand[] } {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  const sent: StartFlashCommand[] = [];
  act(() =>
    root.render(
      <FlashForm
        devices={devices}
        selected={new Set(selected)}
        connected
        onStart={async (c) => {
          sent.push(c);
          return 'Job started';
        }}
      />,
    ),
  );
  return { el, sent };
}

/** The control whose <label> reads `name` (how a person and the e2e tests find it). */
function field(el: HTMLElement, name: string): HTMLInputElement {
  const label = [...el.querySelectorAll('label')].find((l) => l.textContent?.trim() === name);
  const input = label?.htmlFor ? el.querySelector<HTMLInputElement>(`[id="${label.htmlFor}"]`) : null;
  if (!input) throw new Error(`no field labelled ${name}`);
  return input;
}

function type(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
  act(() => {
    setter?.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

function button(el: HTMLElement, name: string): HTMLButtonElement {
  const b = [...el.querySelectorAll('button')].find((x) => x.textContent?.trim() === name);
  if (!b) throw new Error(`no button ${name}`);
  return b;
}

async function submit(el: HTMLElement): Promise<void> {
  await act(async () => {
    button(el, 'Flash').click();
    await Promise.resolve();
  });
}

describe('flash form', () => {
  it('in a browser: a path field and no Browse button; image + partition to one target', async () => {
    const { el, sent } = render([device('A'), device('B')], ['A']);
    expect(el.textContent).not.toContain('Browse');
    expect(field(el, 'Image').type).toBe('text');
    type(field(el, 'Image'), ' /images/boot.img ');
    type(field(el, 'Partition'), 'boot');
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceId: 'A', image: '/images/boot.img', partition: 'boot' }]);
    expect(el.querySelector('[role="status"]')?.textContent).toBe('Job started');
  });

  it('sends to many targets with deviceIds, and verify when ticked', async () => {
    const { el, sent } = render([device('A'), device('B'), device('C')], ['A', 'C']);
    expect(el.textContent).toContain('Targets: A, C');
    type(field(el, 'Image'), '/images/system.img');
    type(field(el, 'Partition'), 'system');
    const verify = [...el.querySelectorAll('label')].find((l) => l.textContent?.includes('Verify after writing'))?.querySelector('input') as HTMLInputElement;
    act(() => verify.click());
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceIds: ['A', 'C'], image: '/images/system.img', partition: 'system', verify: true }]);
  });

  it('sends a plan instead of image + partition', async () => {
    const { el, sent } = render([device('A')], []);
    // The only device is the target without selecting it.
    expect(el.textContent).toContain('Target: A');
    type(field(el, 'Plan file'), '/bundles/factory.zip');
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceId: 'A', plan: '/bundles/factory.zip' }]);
  });

  it('says what is missing instead of sending a half-filled job', async () => {
    const { el, sent } = render([device('A'), device('B')], []);
    type(field(el, 'Image'), '/images/boot.img');
    await submit(el);
    expect(el.querySelector('[role="alert"]')?.textContent).toMatch(/Select at least one device/);
    const two = render([device('A')], ['A']);
    type(field(two.el, 'Image'), '/images/boot.img');
    await submit(two.el);
    expect(two.el.querySelector('[role="alert"]')?.textContent).toMatch(/image path and a partition/);
    expect([...sent, ...two.sent]).toEqual([]);
  });

  it('in Electron: Browse… and Folder… open the native dialog through the bridge and fill in the path', async () => {
    const asked: Array<ImageDialogOptions | undefined> = [];
    (globalThis as { flashStation?: unknown }).flashStation = {
      token: 't',
      version: '0',
      openImageDialog: async (o?: ImageDialogOptions) => {
        asked.push(o);
        return o?.directory ? '/bundles/pixel' : '/home/tech/boot.img';
      },
    };
    const { el, sent } = render([device('A')], ['A']);
    await act(async () => {
      button(el, 'Browse…').click();
      await Promise.resolve();
    });
    expect(field(el, 'Image').value).toBe('/home/tech/boot.img');
    await act(async () => {
      button(el, 'Folder…').click();
      await Promise.resolve();
    });
    expect(field(el, 'Plan file').value).toBe('/bundles/pixel');
    expect(asked).toEqual([
      { title: 'Choose an image', directory: false },
      { title: 'Choose a plan bundle', directory: true },
    ]);
    await submit(el);
    expect(sent[0]).toMatchObject({ deviceId: 'A', plan: '/bundles/pixel' });
  });

  const esp = (id: string): Device => ({ ...device(id), protocol: 'esp', transport: 'serial', targets: ['address', 'partition'], partitions: [{ name: 'nvs', size: 0x6000 }, { name: 'factory', size: 0x100000 }] });
  const stm32 = (id: string): Device => ({ ...device(id), protocol: 'stm32', transport: 'serial', targets: ['address'], partitions: undefined });
  const sd = (id: string): Device => ({ ...device(id), protocol: 'block', transport: 'block', targets: ['whole'], partitions: undefined });
  const has = (el: HTMLElement, name: string): boolean => [...el.querySelectorAll('label')].some((l) => l.textContent?.trim() === name);

  it('offers an Address field for a family that takes addresses, and sends hex as the string, decimal as the number', async () => {
    const { el, sent } = render([stm32('S1')], ['S1']);
    expect(has(el, 'Partition')).toBe(false);
    expect(has(el, 'Write to')).toBe(false);
    type(field(el, 'Image'), '/fw/app.bin');
    type(field(el, 'Address'), '0x08000000');
    await submit(el);
    type(field(el, 'Address'), '4096');
    await submit(el);
    expect(sent).toEqual([
      { type: 'start_flash', deviceId: 'S1', image: '/fw/app.bin', address: '0x08000000' },
      { type: 'start_flash', deviceId: 'S1', image: '/fw/app.bin', address: 4096 },
    ]);
    type(field(el, 'Address'), 'start');
    await submit(el);
    expect(el.querySelector('[role="alert"]')?.textContent).toMatch(/"start" is not an address/);
    expect(sent).toHaveLength(2);
  });

  it('asks for nothing but the image for a device written whole', async () => {
    const { el, sent } = render([sd('SD1')], ['SD1']);
    expect(has(el, 'Partition') || has(el, 'Address')).toBe(false);
    expect(el.textContent).toContain('written over the whole device');
    type(field(el, 'Image'), '/img/raspios.img.xz');
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceId: 'SD1', image: '/img/raspios.img.xz' }]);
  });

  it('lets a family that takes several targets choose, in its order, and lists its partitions to pick from', async () => {
    const { el, sent } = render([esp('E1')], ['E1']);
    const writeTo = field(el, 'Write to') as unknown as HTMLSelectElement;
    expect([...writeTo.options].map((o) => o.textContent)).toEqual(['an address', 'a partition']);
    expect(has(el, 'Address')).toBe(true);
    act(() => {
      writeTo.value = 'partition';
      writeTo.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(has(el, 'Address')).toBe(false);
    const chips = [...el.querySelectorAll('.partition-list button')].map((b) => b.textContent);
    expect(chips).toEqual(['factory 1.00 MiB', 'nvs 24.0 KiB']);
    act(() => (el.querySelector('.partition-list button') as HTMLButtonElement).click());
    expect(field(el, 'Partition').value).toBe('factory');
    type(field(el, 'Image'), '/fw/app.bin');
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceId: 'E1', image: '/fw/app.bin', partition: 'factory' }]);
  });

  it('offers an address first to a board that lists no partitions yet (an ESP without a partition table)', async () => {
    const blank = (id: string): Device => ({ ...esp(id), targets: ['partition', 'address'], partitions: [] });
    const { el, sent } = render([blank('E2')], ['E2']);
    const writeTo = field(el, 'Write to') as unknown as HTMLSelectElement;
    expect([...writeTo.options].map((o) => o.textContent)).toEqual(['an address', 'a partition']);
    expect(field(el, 'Image').placeholder).toMatch(/Intel HEX, S-record/);
    type(field(el, 'Image'), '/fw/app.bin');
    type(field(el, 'Address'), '0x10000');
    await submit(el);
    expect(sent).toEqual([{ type: 'start_flash', deviceId: 'E2', image: '/fw/app.bin', address: '0x10000' }]);
    // With its table read, the family's own order again: a partition first.
    const listed = render([{ ...blank('E3'), partitions: [{ name: 'factory', size: 0x100000 }] }], ['E3']);
    expect([...(field(listed.el, 'Write to') as unknown as HTMLSelectElement).options].map((o) => o.textContent)).toEqual(['a partition', 'an address']);
  });

  it('says so when the selected devices share no target, and sends nothing', async () => {
    const { el, sent } = render([sd('SD1'), stm32('S1')], ['SD1', 'S1']);
    expect(el.textContent).toMatch(/written in different ways \(SD1: the whole device; S1: an address\)/);
    type(field(el, 'Image'), '/x.img');
    await submit(el);
    expect(el.querySelector('[role="alert"]')?.textContent).toMatch(/take different targets/);
    expect(sent).toEqual([]);
  });
});
