// How the deb ships the block-device privilege helper: packed from dist/block-helper, installed root-owned where the
// polkit action's exec.path points, the action itself (admin password on the active seat only), removed on uninstall.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BLOCK_HELPER_PATH } from '../../../src/transports/block-helper.js';

const root = resolve(import.meta.dirname, '../../..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const config = parse(read('electron-builder.yml')) as {
  extraResources: Array<{ from: string; to: string; filter?: string[] }>;
  deb: { afterInstall: string; afterRemove: string; depends: string[] };
};
const policy = read('build/linux/io.flashstation.block.policy');

describe('block helper packaging', () => {
  it('packs the helper and the polkit policy as resources', () => {
    expect(config.extraResources).toContainEqual({ from: 'dist/block-helper', to: 'block-helper', filter: ['flash-station-block-helper'] });
    expect(config.extraResources).toContainEqual({ from: 'build/linux', to: 'polkit', filter: ['*.policy'] });
    expect(read('scripts/build.mjs')).toContain("'-o', 'dist/block-helper/flash-station-block-helper'");
    expect(config.deb.depends).toContain('pkexec | policykit-1');
  });

  it('the deb installs both root-owned where the station and polkit look, and removal deletes them', () => {
    const install = read(config.deb.afterInstall);
    expect(install).toContain(`install -D -o root -g root -m 0755 "$HELPER_SRC" ${BLOCK_HELPER_PATH}`);
    expect(install).toContain('install -D -o root -g root -m 0644 "$POLICY_SRC" /usr/share/polkit-1/actions/io.flashstation.block.policy');
    expect(install).toContain('"$APP_DIR/resources/block-helper/flash-station-block-helper"');
    expect(read(config.deb.afterRemove)).toContain(`rm -f ${BLOCK_HELPER_PATH} /usr/share/polkit-1/actions/io.flashstation.block.policy`);
  });

  it('the polkit action allows only the helper, only to an administrator on the active seat', () => {
    expect(policy).toContain('<action id="io.flashstation.block.write">');
    expect(policy).toContain(`<annotate key="org.freedesktop.policykit.exec.path">${BLOCK_HELPER_PATH}</annotate>`);
    expect(policy).toMatch(/<allow_any>no<\/allow_any>\s*<allow_inactive>no<\/allow_inactive>\s*<allow_active>auth_admin_keep<\/allow_active>/);
    expect(policy.match(/<action /g)).toHaveLength(1);
  });
});
