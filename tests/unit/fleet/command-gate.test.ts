// MQTT commands: a reply that cannot go out becomes an `internal` answer instead of an unhandled rejection.
import { describe, expect, it } from 'vitest';
import type { StationApi } from '../../../src/core/station-api.js';
import { CommandGate } from '../../../src/fleet/command-gate.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';

const TOKEN = 't0ken';

function gate(reply: (m: ServerMessage) => void): CommandGate {
  // `ping` and `auth` never reach the station.
  return new CommandGate({ station: {} as StationApi, checkToken: (t) => t === TOKEN, reply });
}

const frame = (o: object): Buffer => Buffer.from(JSON.stringify(o));

describe('CommandGate', () => {
  it('runs a command with the right token and publishes its answer', async () => {
    const sent: ServerMessage[] = [];
    const g = gate((m) => sent.push(m));
    g.accept(frame({ type: 'ping', token: TOKEN }), false);
    g.accept(frame({ type: 'ping', token: 'wrong', requestId: 'r1' }), false);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([
      { type: 'result', requestId: 'r1', ok: false, error: expect.objectContaining({ code: 'unauthorized' }) },
      { type: 'pong', timestamp: expect.any(Number) },
    ]);
    expect(g.counters).toMatchObject({ commandsRun: 1, commandsUnauthorized: 1 });
  });

  it('answers `internal` when publishing the answer throws, and does not leave the rejection unhandled', async () => {
    const sent: ServerMessage[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const g = gate((m) => {
        if (m.type === 'pong') throw new Error('publish failed');
        sent.push(m);
      });
      g.accept(frame({ type: 'ping', token: TOKEN, requestId: 'r2' }), false);
      await new Promise((r) => setTimeout(r, 20));
      expect(sent).toEqual([{ type: 'result', requestId: 'r2', ok: false, error: { code: 'internal', message: 'The station could not carry out ping: publish failed' } }]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
