// The UI's picture of the station: the client's one reducer (src/client/job-state.ts), named here for the views.
export {
  type ActiveJob, type LogEntry, type StationState, FINAL_STATES, MAX_LOG_LINES, annotateJobs, clearAllJobs, clearBatch, clearJob, emptyState,
  isFinished, mergeLogs, reduce,
} from '../../client/job-state.js';
