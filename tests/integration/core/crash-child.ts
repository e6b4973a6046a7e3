// Child process for the crash test: a station with one slow file device, flashing; prints `running JOBID` once bytes move.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStation } from '../../../src/core/station.js';
import { FileDeviceProvider } from './file-device.js';

const dir = process.argv[2] as string;
const provider = new FileDeviceProvider([{ id: 'CRASH1', dir, partitions: { boot: 64 << 20 }, speed: 2 << 20 }]);
const station = await createStation({ dataDir: join(dir, 'data'), providers: [provider], families: [provider.family] });
await new Promise((r) => setTimeout(r, 50));
const image = join(dir, 'crash.img');
writeFileSync(image, randomBytes(32 << 20));
const { jobId } = await station.startFlash({ deviceId: 'CRASH1', partition: 'boot', image });
station.subscribe((m) => {
  if (m.type === 'flash_progress' && m.bytesTransferred > 2 << 20) process.stdout.write(`running ${jobId}\n`);
});
