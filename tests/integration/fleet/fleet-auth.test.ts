// The Last Will when a station dies without a goodbye, and a station the broker's ACL refuses, reported clearly.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation } from '../../../src/core/station.js';
import { StationLink } from '../../../src/fleet/station-link.js';
import { startFleet } from '../../../src/fleet/fleet-view.js';
import { until } from '../../helpers/until.js';
import { startBroker } from './broker.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bare(dir: string, name: string) {
  const st = await createStation({ dataDir: join(dir, name), providers: [] });
  cleanups.push(() => st.close());
  return st;
}

describe('station link: will and ACL', () => {
  it('publishes online:false (the Last Will) when the station drops its connection without a goodbye', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-fleet-will-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await startBroker(dir);
    cleanups.push(() => broker.stop());
    const fleet = await startFleet({ url: broker.url, port: 0, token: 't' });
    cleanups.push(() => fleet.close());
    await until(() => fleet.subscribed, 5000, 'fleet subscribed');
    const st = await bare(dir, 'W1');
    const link = new StationLink({ url: broker.url, stationId: 'W1', commands: false, dataDir: join(dir, 'W1') }, { station: st, checkToken: () => false });
    await until(() => fleet.store.get('W1')?.online === true, 5000, 'station online');
    const silentAt = Date.now();
    link.destroy(); // the socket closes with no DISCONNECT, as after kill -9
    await until(() => fleet.store.get('W1')?.online === false, 5000, 'the Last Will');
    expect(fleet.store.get('W1')?.online).toBe(false);
    // A fleet view started later learns of the dead station from the broker's retained copies: "last seen" stays
    // when the station last spoke, not when the view heard of it.
    await new Promise((r) => setTimeout(r, 1200));
    const late = await startFleet({ url: broker.url, port: 0, token: 't' });
    cleanups.push(() => late.close());
    await until(() => late.store.get('W1') !== undefined, 5000, 'the retained status in a new view');
    await new Promise((r) => setTimeout(r, 300)); // and the retained state
    expect(late.store.get('W1')?.online).toBe(false);
    expect(late.store.get('W1')?.lastSeen).toBeLessThanOrEqual(silentAt);
  });

  it('reports an ACL-denied station clearly: link state denied, a warning naming the topic, counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-fleet-acl-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, '');
    execFileSync('mosquitto_passwd', ['-b', passwd, 'st1', 'secret1']);
    const acl = join(dir, 'acl');
    // Each user may write only under its own station id (%u) and read only its own commands.
    writeFileSync(acl, 'pattern write flash-station/%u/#\npattern read flash-station/%u/commands\n');
    // mosquitto started as root runs as user mosquitto: it must be able to read these.
    chmodSync(dir, 0o755);
    chmodSync(passwd, 0o644);
    chmodSync(acl, 0o644);
    const broker = await startBroker(dir, `allow_anonymous false\npassword_file ${passwd}\nacl_file ${acl}\n`);
    cleanups.push(() => broker.stop());
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'secret1\n');
    const st = await bare(dir, 'other');
    const warnings: string[] = [];
    // User st1 claims to be station "other": the broker must refuse it.
    const link = new StationLink({ url: broker.url, stationId: 'other', commands: true, username: 'st1', passwordFile: pw, dataDir: join(dir, 'other'), warn: (l) => warnings.push(l) },
      { station: st, checkToken: () => false });
    cleanups.push(() => link.close(200));
    await until(() => link.state === 'denied', 5000, 'denied');
    expect(link.problem).toMatch(/ACL|refused/);
    expect(warnings.join('\n')).toMatch(/flash-station\/other/);
    // And wrong credentials are refused at connection, named as such.
    const badPw = join(dir, 'badpw');
    writeFileSync(badPw, 'nope\n');
    const st2 = await bare(dir, 'st1');
    const refused = new StationLink({ url: broker.url, stationId: 'st1', commands: false, username: 'st1', passwordFile: badPw, dataDir: join(dir, 'st1'), reconnectMs: 60_000 },
      { station: st2, checkToken: () => false });
    cleanups.push(() => refused.destroy());
    await until(() => refused.state === 'refused', 5000, 'refused');
    expect(refused.problem).toMatch(/--mqtt-username/);
  });
});
