// `flash-station pause|resume|cancel JOB_ID…` (and `--all`): steer jobs of the running station from a shell.
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, openClient } from '../connect.js';
import { CONTROL_HELP } from '../help.js';
import { EXIT, type CliIo } from '../io.js';

export async function controlCommand(action: 'pause' | 'resume' | 'cancel', argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...CONNECTION_OPTIONS, all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(CONTROL_HELP);
    return EXIT.ok;
  }
  if (values.all ? positionals.length > 0 : positionals.length === 0) {
    io.stderr.write(`flash-station ${action}: give JOB_ID… or --all (see flash-station jobs).\n`);
    return EXIT.usage;
  }
  const client = await openClient(values, io, { needToken: true, reconnect: false });
  try {
    const wanted = values.all
      ? client.jobs.filter((j) => (action === 'resume' ? j.state === 'paused' : action === 'pause' ? j.state === 'running' : ['queued', 'running', 'paused'].includes(j.state))).map((j) => j.jobId)
      : positionals;
    let failures = 0;
    for (const jobId of wanted) {
      try {
        const job = action === 'pause' ? await client.pause(jobId) : action === 'resume' ? await client.resume(jobId) : await client.cancel(jobId);
        io.stdout.write(values.json ? `${JSON.stringify(job)}\n` : `${jobId}: ${action === 'cancel' ? 'cancelling' : job.state}\n`);
      } catch (e) {
        failures++;
        io.stderr.write(`${jobId}: ${(e as Error).message} [${(e as { code?: string }).code ?? 'error'}]\n`);
      }
    }
    if (!wanted.length && !values.json) io.stdout.write(`No jobs to ${action}.\n`);
    return failures ? EXIT.failed : EXIT.ok;
  } finally {
    client.close();
  }
}
