// `serve --help` lists the block-device options the serve command takes (contract §7).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVE_HELP } from '../../../../src/cli/help.js';

describe('serve --help: block devices', () => {
  it('lists --no-block and --block-device PATH, which serve parses', () => {
    expect(SERVE_HELP).toMatch(/^ {2}--no-block {2,}skip discovery of removable disks/m);
    expect(SERVE_HELP).toMatch(/^ {2}--block-device PATH {2,}offer a disk discovery would hide.*\(repeatable/m);
    const serve = readFileSync(new URL('../../../../src/cli/commands/serve.ts', import.meta.url), 'utf8');
    expect(serve).toContain("'no-block': { type: 'boolean' }");
    expect(serve).toContain("'block-device': { type: 'string', multiple: true }");
  });
});
