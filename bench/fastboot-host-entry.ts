// A CLI-equivalent entry for the fastboot benchmark: `node entry.mjs tcp|udp HOST PORT PARTITION IMAGE` flashes one
// image the way a station job does (open, resparse, send through our transport and driver) and exits.
import { fastbootFamily } from '../src/drivers/fastboot/index.js';
import { openImage } from '../src/images/index.js';
import { createFastbootTcpLink } from '../src/transports/fastboot-tcp.js';
import { createFastbootUdpLink } from '../src/transports/fastboot-udp.js';
import type { JobContext } from '../src/contracts/family.js';

const [kind, host = '127.0.0.1', port = '5554', partition = 'system', image = ''] = process.argv.slice(2);
const link = kind === 'udp' ? createFastbootUdpLink(host, Number(port)) : createFastbootTcpLink(host, Number(port));
const abort = new AbortController();
let moved = 0;
const ctx: JobContext = {
  jobId: 'bench',
  deviceId: `${kind}:${host}:${port}`,
  signal: abort.signal,
  gate: { pass: async () => undefined },
  throttle: { take: async () => undefined },
  moved: (n) => {
    moved += n;
  },
  stage: () => undefined,
  log: () => undefined,
  waitForDevice: () => Promise.reject(new Error('no reboot expected')),
};
try {
  // Like AOSP fastboot, no SHA-256 of the expanded image (the station records one; see docs/fastboot.md).
  const source = await openImage(image, { hash: false });
  await fastbootFamily.run(link, { op: 'flash', target: { partition }, source }, ctx);
  await link.close();
  process.stdout.write(`${moved}\n`);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  await link.close();
  process.exitCode = 1;
}
