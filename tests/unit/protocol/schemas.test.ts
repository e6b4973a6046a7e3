// The JSON Schemas mirror messages.ts: one schema per message type (checked at compile time), typed samples of each
// conform, and the mistakes a client makes are caught. Property test: the frame parser never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ClientCommand, type ServerMessage } from '../../../src/protocol/messages.js';
import { CLIENT_COMMAND_TYPES, SERVER_MESSAGE_TYPES } from '../../../src/protocol/schemas.js';
import { checkServerMessage, parseClientFrame } from '../../../src/server/validate.js';

const t = 1703001234567;
const device = { id: 'A1', protocol: 'fastboot', transport: 'usb', name: 'Pixel', serial: 'A1', port: '1-2.3', state: 'idle', partitions: [{ name: 'boot', size: 1 }], info: { product: 'x', slots: 2, secure: true } } as const;
const job = { jobId: 'j', deviceId: 'A1', state: 'running', stage: 'Writing', progress: 4.5, bytesTransferred: 1, totalBytes: 2, transferSpeed: 3, estimatedTimeRemaining: 4, createdAt: t } as const;

// A Record over the union's discriminants: adding a message type to messages.ts without a sample fails to compile.
const serverSamples: { [K in ServerMessage['type']]: Extract<ServerMessage, { type: K }> } = {
  flash_started: { type: 'flash_started', jobId: 'j', deviceId: 'A1', stage: 'Initializing', totalBytes: 4294967296, timestamp: t },
  flash_progress: { type: 'flash_progress', jobId: 'j', deviceId: 'A1', progress: 45.5, stage: 'Writing system partition', bytesTransferred: 1953857536, totalBytes: 4294967296, transferSpeed: 21250000, estimatedTimeRemaining: 110, timestamp: t },
  flash_completed: { type: 'flash_completed', jobId: 'j', deviceId: 'A1', timestamp: t },
  flash_failed: { type: 'flash_failed', jobId: 'j', deviceId: 'A1', error: 'Cancelled', reason: 'cancelled', timestamp: t },
  flash_paused: { type: 'flash_paused', jobId: 'j', deviceId: 'A1', timestamp: t },
  flash_resumed: { type: 'flash_resumed', jobId: 'j', deviceId: 'A1', timestamp: t },
  pong: { type: 'pong', timestamp: t },
  hello: { type: 'hello', protocol: 'flash-station/1', version: '0.1.0', authenticated: false, timestamp: t },
  snapshot: { type: 'snapshot', devices: [{ ...device, partitions: [...device.partitions], info: { ...device.info } }], jobs: [{ ...job }], timestamp: t },
  device_attached: { type: 'device_attached', device: { ...device, partitions: [...device.partitions], info: { ...device.info } }, timestamp: t },
  device_detached: { type: 'device_detached', deviceId: 'A1', timestamp: t },
  device_updated: { type: 'device_updated', device: { ...device, partitions: [...device.partitions], info: { ...device.info } }, timestamp: t },
  flash_queued: { type: 'flash_queued', jobId: 'j', deviceId: 'A1', position: 2, timestamp: t },
  flash_log: { type: 'flash_log', jobId: 'j', deviceId: 'A1', level: 'info', message: 'erasing', timestamp: t },
  batch_summary: { type: 'batch_summary', batchId: 'b', total: 3, succeeded: 1, failed: 0, cancelled: 0, running: 1, queued: 1, timestamp: t },
  result: { type: 'result', requestId: 'r', ok: true, jobId: 'j' },
  error: { type: 'error', code: 'invalid_json', message: 'nope' },
};

const clientSamples: ClientCommand[] = [
  { type: 'ping', timestamp: t },
  { type: 'auth', token: 'x' },
  { type: 'get_snapshot' },
  { type: 'get_history', limit: 10, deviceId: 'A1', before: t },
  { type: 'start_flash', deviceId: 'A1', partition: 'boot', image: '/tmp/boot.img', requestId: 'r1' },
  { type: 'start_flash', deviceIds: ['A1', 'A2'], plan: { name: 'p', steps: [{ op: 'flash', partition: 'boot', image: '/b.img' }, { op: 'reboot' }] } },
  { type: 'start_flash', deviceId: 'A1', plan: '/bundles/factory.zip', verify: true },
  { type: 'pause_flash', jobId: 'j' },
  { type: 'resume_flash', jobId: 'j' },
  { type: 'cancel_flash', jobId: 'j' },
  { type: 'set_limits', bytesPerSecond: null },
  { type: 'set_limits', jobId: 'j', bytesPerSecond: 1048576 },
  serverSamples.flash_progress,
  { type: 'pause_all' },
  { type: 'resume_all', requestId: 'x' },
  { type: 'cancel_all' },
  { type: 'get_settings' },
  { type: 'update_settings', settings: { slotLimit: 4 } },
];

describe('schemas', () => {
  it('have exactly one schema per server message type', () => {
    expect([...SERVER_MESSAGE_TYPES].sort()).toEqual(Object.keys(serverSamples).sort());
  });
  it('accept every typed server sample, including the guide\'s examples', () => {
    for (const m of Object.values(serverSamples)) expect(checkServerMessage(m), m.type).toBeNull();
    expect(checkServerMessage({ type: 'result', ok: false, error: { code: 'device_busy', message: 'y' }, requestId: 'r' })).toBeNull();
  });
  it('list the error codes: the station sends only codes of ERROR_CODES; an outside agent\'s own code is not refused', () => {
    expect(checkServerMessage({ type: 'result', ok: false, error: { code: 'x', message: 'y' }, requestId: 'r' })).not.toBeNull();
    expect(checkServerMessage({ type: 'error', code: 'usb_stall', message: 'm' })).toMatch(/code/);
    expect(checkServerMessage({ ...serverSamples.flash_failed, code: 'command_failed' })).toMatch(/code/);
    for (const code of ERROR_CODES) expect(checkServerMessage({ ...serverSamples.flash_failed, code }), code).toBeNull();
    expect(checkServerMessage({ ...serverSamples.snapshot, jobs: [{ ...job, errorCode: 'usb_lost' }] })).toMatch(/errorCode/);
    expect(parseClientFrame(JSON.stringify({ ...serverSamples.flash_failed, code: 'agent_specific' }))).toMatchObject({ ok: true });
  });
  it('catch broken server frames', () => {
    expect(checkServerMessage({ ...serverSamples.flash_progress, progress: 101 })).toMatch(/progress/);
    expect(checkServerMessage({ ...serverSamples.hello, protocol: 'other' })).not.toBeNull();
    expect(checkServerMessage({ type: 'result', ok: false })).not.toBeNull();
    expect(checkServerMessage({ type: 'nope' })).toMatch(/unknown/);
  });
  it('accept every typed client sample', () => {
    expect(CLIENT_COMMAND_TYPES).toContain('start_flash');
    for (const c of clientSamples) expect(parseClientFrame(JSON.stringify(c)), JSON.stringify(c)).toMatchObject({ ok: true });
  });
  it('refuse ill-formed commands with a reason that names the field', () => {
    const bad: Array<[unknown, string, RegExp]> = [
      [{ type: 'start_flash', partition: 'boot', image: '/x' }, 'bad_request', /./],
      [{ type: 'start_flash', deviceId: 'A', partition: 'boot' }, 'bad_request', /./],
      [{ type: 'pause_flash' }, 'bad_request', /jobId/],
      [{ type: 'cancel_flash', jobId: 7 }, 'bad_request', /jobId/],
      [{ type: 'get_history', limit: 0 }, 'bad_request', /limit/],
      [{ type: 'set_limits', bytesPerSecond: 0 }, 'bad_request', /bytesPerSecond/],
      [{ type: 'flash_progress', jobId: 'j', deviceId: 'd', progress: 'half' }, 'bad_request', /./],
      [{ type: 'start_flash', deviceId: 'A', plan: { steps: [{ op: 'format_everything' }] } }, 'bad_request', /./],
      [{ type: 'launch' }, 'unknown_type', /launch/],
      [{ type: 5 }, 'bad_request', /type/],
      [{ type: 'update_settings', settings: 'fast' }, 'bad_request', /settings/],
      [{ type: 'update_settings' }, 'bad_request', /settings/],
    ];
    for (const [value, code, message] of bad) {
      const r = parseClientFrame(JSON.stringify(value));
      expect(r, JSON.stringify(value)).toMatchObject({ ok: false, code });
      if (!r.ok) expect(r.message).toMatch(message);
    }
    expect(parseClientFrame('{"type":')).toMatchObject({ ok: false, code: 'invalid_json' });
  });
  it('take exactly one target with an image (contract §7): partition, address, or neither — or a plan alone', () => {
    const okFrames = [
      { type: 'start_flash', deviceId: 'A', partition: 'boot', image: '/x' },
      { type: 'start_flash', deviceId: 'A', address: 4096, image: '/x' },
      { type: 'start_flash', deviceId: 'A', address: '0x1000', image: '/x' },
      { type: 'start_flash', deviceId: 'A', address: '0X08000000', image: '/x' },
      { type: 'start_flash', deviceId: 'A', image: '/x' },
      { type: 'start_flash', deviceId: 'A', plan: '/p.yaml' },
    ];
    for (const c of okFrames) expect(parseClientFrame(JSON.stringify(c)), JSON.stringify(c)).toMatchObject({ ok: true });
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ partition: 'boot', address: 1, image: '/x' }, /exactly one of partition, address or neither/],
      [{ address: 1, plan: '/p' }, /plan alone/],
      [{ image: '/x', plan: '/p' }, /plan alone/],
      [{ partition: 'boot' }, /image/],
      [{}, /image/],
      [{ address: -1, image: '/x' }, /address/],
      [{ address: 1.5, image: '/x' }, /address/],
      [{ address: '4096', image: '/x' }, /address/],
      [{ address: '0x', image: '/x' }, /address/],
      [{ address: '0x12345678901234', image: '/x' }, /address/],
    ];
    for (const [fields, why] of bad) {
      const r = parseClientFrame(JSON.stringify({ type: 'start_flash', deviceId: 'A', ...fields }));
      expect(r, JSON.stringify(fields)).toMatchObject({ ok: false, code: 'bad_request' });
      if (!r.ok) expect(r.message, JSON.stringify(fields)).toMatch(why);
    }
  });
  it('accept a device that lists its targets, and refuse an unknown target kind', () => {
    const withTargets = { ...serverSamples.device_attached, device: { ...serverSamples.device_attached.device, targets: ['address', 'whole'] } };
    expect(checkServerMessage(withTargets)).toBeNull();
    expect(checkServerMessage({ ...withTargets, device: { ...withTargets.device, targets: ['sector'] } })).toMatch(/targets/);
    expect(checkServerMessage({ ...withTargets, device: { ...withTargets.device, transport: 'block' } })).toBeNull();
  });
  it('never throw on arbitrary input', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      const r = parseClientFrame(text);
      expect(typeof r.ok).toBe('boolean');
    }), { numRuns: 500 });
  });
});
