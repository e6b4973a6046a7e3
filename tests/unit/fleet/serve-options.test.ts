// `serve --mqtt` flags: a bad station id, URL or lone flag is refused before the station starts.
import { describe, expect, it } from 'vitest';
import { mqttServeOptions } from '../../../src/fleet/serve-options.js';

describe('serve --mqtt options', () => {
  it.each(['line/1', 'st+', 'st#'])('refuses the station id %j at start', async (id) => {
    await expect(mqttServeOptions({ mqtt: 'mqtt://127.0.0.1:1883', 'station-id': id })).rejects.toThrow(/--station-id/);
  });
  it('refuses other schemes, credentials in the URL, and MQTT flags without --mqtt', async () => {
    await expect(mqttServeOptions({ mqtt: 'http://broker' })).rejects.toThrow(/mqtt:\/\//);
    await expect(mqttServeOptions({ mqtt: 'mqtt://u:p@broker' })).rejects.toThrow(/password-file/);
    await expect(mqttServeOptions({ 'mqtt-commands': true })).rejects.toThrow(/needs --mqtt/);
    await expect(mqttServeOptions({ mqtt: 'mqtt://b', 'mqtt-protocol': '3' })).rejects.toThrow(/5 or 3.1.1/);
  });
  it('builds the link options', async () => {
    expect(await mqttServeOptions({ mqtt: 'mqtts://b:8883', 'station-id': 'bench-1', 'mqtt-commands': true, 'mqtt-protocol': '3.1.1' }))
      .toMatchObject({ url: 'mqtts://b:8883', stationId: 'bench-1', commands: true, protocolVersion: 4 });
    expect(await mqttServeOptions({})).toBeUndefined();
  });
});
