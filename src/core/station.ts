// Station: the composition root of the core — device registry, jobs, history, settings — behind StationApi.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceRegistry } from '../devices/registry.js';
import type { Device, FlashEventMessage, Job, JobLogLine } from '../protocol/messages.js';
import { AutoFlash } from './auto-flash.js';
import { systemClock, type Clock } from './clock.js';
import { FlashError } from './errors.js';
import { EventBus } from './event-bus.js';
import { freshPrivateDir, securePrivateDir } from './private-files.js';
import { ExternalJobs, type ExternalJobsOptions } from './external-jobs.js';
import { History, rowToJob, type ImageRecord } from './history.js';
import { analytics, csvChunks, CSV_COLUMNS } from './history-export.js';
import { defaultImageBackend, type ImageBackend } from './image-backend.js';
import { JobManager, type JobManagerDeps } from './job-manager.js';
import { SettingsStore, type Settings } from './settings.js';
import type {
  AnalyticsQuery,
  AnalyticsRow,
  BatchSummary,
  HistoryQuery,
  JobDetail,
  StartFlashRequest,
  StartFlashResult,
  StationApi,
  StationListener,
  StationSettings,
  StationStats,
} from './station-api.js';
import type { Family } from '../contracts/family.js';
import type { CandidateProvider } from '../contracts/provider.js';
import { FAMILIES } from '../families.js';
import { STATION_VERSION } from './version.js';

export type { Settings } from './settings.js';
export type { JobDetail } from './station-api.js';

export interface StationOptions {
  dataDir: string;
  /** Where candidates come from: USB, serial, block, network, simulators (each a CandidateProvider). */
  providers: CandidateProvider[];
  /** The families that claim candidates (default: src/families.ts FAMILIES; tests may pass their own). */
  families?: readonly Family[];
  /** Overrides of the persisted settings for this run (not written back). */
  settings?: Partial<Settings>;
  /** The image pipeline; tests may pass their own. */
  images?: ImageBackend;
  clock?: Clock;
  /** How long completed jobs' record hashes are followed (defaults: 10 min once started; 15 s on close). */
  hashes?: JobManagerDeps['hashes'];
  /** Limits on outside agents' jobs (silence before `lost`, caps per publisher). */
  external?: Pick<ExternalJobsOptions, 'silenceMs' | 'maxPerPublisher' | 'maxActive'>;
}

export interface Station extends StationApi {
  readonly dataDir: string;
  /** Problems starting device providers (e.g. no USB access); the station runs without them. */
  readonly providerProblems: string[];
  /** Jobs history found running when the station started (it had died): now marked interrupted. */
  readonly interruptedAtStart: number;
  /** Set when the data dir could not be made private (shared or foreign-owned). */
  readonly dataDirWarning?: string;
  /** Set when history.db was damaged at start and moved aside: the message, naming both files. */
  readonly historyRecovered: string | undefined;
  jobDetail(jobId: string): JobDetail | undefined;
}

export async function createStation(options: StationOptions): Promise<Station> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const settings = new SettingsStore(options.dataDir, options.settings ?? {});
  const history = new History(options.dataDir);
  // After both exist: settings.json and history.db (with its -wal/-shm) are 0600 in a 0700 dir.
  const privacy = await securePrivateDir(options.dataDir);
  // Images decoded before writing (shared by a batch, deleted when it ends); a stopped station's leftovers go.
  const spoolDir = join(options.dataDir, 'spool');
  await freshPrivateDir(spoolDir);
  const bus = new EventBus();
  const registry = new DeviceRegistry({ emit: bus.emit, families: options.families ?? FAMILIES });
  const jobs = new JobManager({
    registry, history, images: options.images ?? defaultImageBackend, emit: bus.emit,
    settings: () => settings.get(), clock: options.clock ?? systemClock, spoolDir,
    ...(options.hashes ? { hashes: options.hashes } : {}),
  });
  const external = new ExternalJobs(history, (id) => jobs.has(id) || (history.row(id)?.external === 0), {
    emit: bus.emit, ...(options.clock ? { clock: options.clock } : {}), ...(options.external ?? {}),
  });
  const auto = new AutoFlash(registry, jobs, () => settings.get());
  let closed: Promise<void> | undefined;
  const providerProblems = await registry.start(options.providers);

  const station: Station = {
    version: STATION_VERSION,
    dataDir: options.dataDir,
    providerProblems,
    interruptedAtStart: history.interruptedAtOpen,
    ...(privacy.warning ? { dataDirWarning: privacy.warning } : {}),
    historyRecovered: history.recovered,
    devices: (): Device[] => registry.list(),
    jobs: (): Job[] => [...jobs.list(), ...external.list()].sort((a, b) => a.createdAt - b.createdAt),
    job: (jobId: string): Job | undefined => jobs.get(jobId) ?? external.get(jobId),
    startFlash: (request: StartFlashRequest): Promise<StartFlashResult> => jobs.start(request),
    pause: (jobId: string): Job => jobs.pause(jobId),
    resume: (jobId: string): Job => jobs.resume(jobId),
    cancel: (jobId: string): Job => jobs.cancel(jobId),
    pauseAll: (): Job[] => jobs.pauseAll(),
    resumeAll: (): Job[] => jobs.resumeAll(),
    cancelAll: (): Job[] => jobs.cancelAll(),
    // One truth for the station-wide limit: set_limits without a job changes the setting (kept, and what
    // GET /api/settings and the Settings page show); with a job it changes only that job's bucket.
    setLimits: (jobId: string | undefined, bytesPerSecond: number | null): void => {
      jobs.setLimits(jobId, bytesPerSecond);
      if (jobId === undefined) settings.update({ stationBytesPerSecond: bytesPerSecond });
    },
    history: (query: HistoryQuery): Job[] => {
      const rows = history.query(query ?? {});
      // Active jobs show their live numbers.
      return rows.map((j) => jobs.get(j.jobId) ?? external.get(j.jobId) ?? j);
    },
    jobDetail: (jobId: string): JobDetail | undefined => {
      const row = history.row(jobId);
      if (!row) return undefined;
      const job = jobs.get(jobId) ?? external.get(jobId) ?? rowToJob(row);
      const d: JobDetail = {
        job,
        stages: history.stages(jobId).map((s) => ({ stage: s.stage, startedAt: s.started_at, bytes: s.bytes, ...(s.ended_at !== null ? { endedAt: s.ended_at } : {}) })),
        logs: history.logs(jobId).map((l) => ({ timestamp: l.ts, level: l.level, message: l.message })),
      };
      if (row.plan_json) d.plan = JSON.parse(row.plan_json) as unknown;
      if (row.images_json) d.images = JSON.parse(row.images_json) as ImageRecord[];
      if (row.image_path !== null) d.imagePath = row.image_path;
      if (row.image_size !== null) d.imageSize = row.image_size;
      if (row.avg_speed !== null) d.averageSpeed = row.avg_speed;
      if (row.peak_speed !== null) d.peakSpeed = row.peak_speed;
      return d;
    },
    jobLogs: (jobIds: string[], limit: number): Record<string, JobLogLine[]> => {
      const out: Record<string, JobLogLine[]> = {};
      for (const id of jobIds) {
        const lines = history.recentLogs(id, limit);
        if (lines.length) out[id] = lines.map((l) => ({ timestamp: l.ts, level: l.level, message: l.message }));
      }
      return out;
    },
    publishExternal: (message: FlashEventMessage, publisher?: string): void => {
      if (closed) throw new FlashError('shutting_down', 'The station is shutting down.');
      bus.emit(external.accept(message, publisher));
    },
    subscribe: (listener: StationListener): (() => void) => bus.subscribe(listener),
    stats: (): StationStats => {
      const jobsByState: Record<string, number> = { queued: 0, running: 0, paused: 0, completed: 0, failed: 0, cancelled: 0 };
      for (const j of station.jobs()) jobsByState[j.state] = (jobsByState[j.state] ?? 0) + 1;
      return { jobsByState, bytesFlashed: jobs.bytesFlashed, devices: registry.list().length, ports: jobs.portCounters() };
    },
    batch: (batchId: string): BatchSummary | undefined => jobs.batch(batchId),
    batches: (): BatchSummary[] => jobs.batchList(),
    analytics: (query: AnalyticsQuery): AnalyticsRow[] => {
      if (!query || !['device', 'image', 'day'].includes(query.groupBy)) {
        throw new FlashError('bad_request', '`groupBy` must be `device`, `image` or `day`.');
      }
      return analytics(history.rowsBetween(query.since, query.until), query);
    },
    exportCsv: (query: HistoryQuery): Iterable<string> => csvChunks(history.pagedValues({ limit: 100_000, ...query }, 100_000, CSV_COLUMNS)),
    getSettings: (): StationSettings => settings.get(),
    updateSettings: (patch: Partial<StationSettings>): StationSettings => {
      const next = settings.update(patch);
      if (patch.stationBytesPerSecond !== undefined) jobs.setLimits(undefined, next.stationBytesPerSecond);
      jobs.settingsChanged();
      return next;
    },
    close: (): Promise<void> => {
      closed ??= (async () => {
        auto.stop();
        external.close();
        await jobs.close();
        await registry.stop();
        history.close();
      })();
      return closed;
    },
  };
  return station;
}
