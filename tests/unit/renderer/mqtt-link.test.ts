// parseMqttLink: the link state and queue from /metrics text; nothing for a station without --mqtt.
import { describe, expect, it } from 'vitest';
import { parseMqttLink } from '../../../src/renderer/lib/mqtt-link.js';

describe('parseMqttLink', () => {
  it('reads the current state and the queue', () => {
    const text = 'flash_station_mqtt_link_state{state="connected"} 0\nflash_station_mqtt_link_state{state="disconnected"} 1\nflash_station_mqtt_events_queued 42\n';
    expect(parseMqttLink(text)).toEqual({ state: 'disconnected', queued: 42 });
  });
  it('is undefined without a link', () => {
    expect(parseMqttLink('flash_station_devices 2\n')).toBeUndefined();
  });
});
