// etcher-sdk (Etcher's own engine) writing IMAGE to DEVICE with verification, for bench/block.bench.ts: `node bench/block-etcher-entry.mjs IMAGE DEVICE`.
// Its native parts must be built: npm ci skips their install scripts (see docs/block.md, "Benchmarks").
import { sourceDestination, multiWrite } from 'etcher-sdk';
import { execFileSync } from 'node:child_process';
const [image, dev] = process.argv.slice(2);
const size = Number(execFileSync('blockdev', ['--getsize64', dev], { encoding: 'utf8' }).trim());
const drive = { device: dev, raw: dev, devicePath: null, description: 'loop', size, blockSize: 512, logicalBlockSize: 512,
  mountpoints: [], isSystem: false, isRemovable: true, isReadOnly: false, isVirtual: false, isSCSI: false, isUSB: false, isCard: false, isUAS: false, busType: 'UNKNOWN', busVersion: null, enumerator: 'loop', error: null, partitionTableType: null, displayName: dev };
const file = new sourceDestination.File({ path: image });
const source = await file.getInnerSource();
const dest = new sourceDestination.BlockDevice({ drive, unmountOnSuccess: false, write: true, direct: true });
const t = Date.now();
let last;
const r = await multiWrite.pipeSourceToDestinations({ source, destinations: [dest], verify: true, numBuffers: 16,
  onFail: (_d, e) => { console.error('fail', e); process.exitCode = 1; }, onProgress: (p) => { last = p; } });
console.log(JSON.stringify({ ms: Date.now() - t, bytesWritten: r.bytesWritten, failures: r.failures.size, step: last?.type }));
