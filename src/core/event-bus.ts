// EventBus: station events to every subscriber; one subscriber's exception never reaches the others or the emitter.
import type { ServerMessage } from '../protocol/messages.js';
import type { StationListener } from './station-api.js';

export class EventBus {
  private readonly listeners = new Set<StationListener>();

  subscribe(listener: StationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit = (message: ServerMessage): void => {
    for (const l of [...this.listeners]) {
      try {
        l(message);
      } catch {
        // A subscriber's fault is its own.
      }
    }
  };
}
