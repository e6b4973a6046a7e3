// Public entry of the typed client for outside tools, the CLI and the UI.
export { StationClient, StationClientError, DEFAULT_URL } from './station-client.js';
export type { Answer, StationClientOptions, WebSocketLike, WebSocketConstructor, ConnectionStatus, StartFlashRequest } from './station-client.js';
export { applyMessage, emptyState, isFinished, reduce, FINAL_STATES } from './job-state.js';
export type { ActiveJob, LogEntry, StationState } from './job-state.js';
export type * from '../protocol/messages.js';
