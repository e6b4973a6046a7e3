// Public entry of the typed client for outside tools, the CLI and the UI.
export { StationClient, StationClientError, DEFAULT_URL } from './station-client.js';
export type { StationClientOptions, WebSocketLike, WebSocketConstructor, ConnectionStatus, StartFlashRequest } from './station-client.js';
export { applyMessage, emptyState, isFinished } from './job-state.js';
export type { StationState } from './job-state.js';
export type * from '../protocol/messages.js';
