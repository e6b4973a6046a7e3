// Reads the station's MQTT link state from its /metrics text (serve --mqtt); undefined when the station has no link.

export interface MqttLinkStatus {
  state: string;
  queued: number;
}

export function parseMqttLink(metrics: string): MqttLinkStatus | undefined {
  const state = /^flash_station_mqtt_link_state\{state="([a-z]+)"\} 1$/m.exec(metrics)?.[1];
  if (!state) return undefined;
  const queued = Number(/^flash_station_mqtt_events_queued (\d+)$/m.exec(metrics)?.[1] ?? 0);
  return { state, queued };
}
