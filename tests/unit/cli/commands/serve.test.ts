// `serve --serial-port PATH[?protocol=&baud=]`: a bad spec is a usage error (exit 2) naming the key, before anything starts.
import { describe, expect, it } from 'vitest';
import { serveCommand } from '../../../../src/cli/commands/serve.js';
import { SERVE_HELP } from '../../../../src/cli/help.js';
import { captureIo as io } from '../../../helpers/cli-io.js';

describe('serve --serial-port', () => {
  it.each([
    ['/dev/ttyUSB0?protocol=fastboot', /--serial-port \/dev\/ttyUSB0: protocol must be one of esp, stm32, not "fastboot"/],
    ['/dev/ttyUSB0?baud=fast', /baud must be a whole number from 300 to 12000000, not "fast"/],
    ['/dev/ttyUSB0?baud=50', /baud must be a whole number/],
    ['/dev/ttyUSB0?speed=9600', /unknown key "speed" \(it takes protocol and baud\)/],
    ['?protocol=esp', /give a port path/],
  ])('refuses %j with exit 2 and says why', async (spec, why) => {
    const a = io();
    expect(await serveCommand(['--port', '0', '--no-usb', '--serial-port', '/dev/ttyACM0', '--serial-port', spec], a)).toBe(2);
    expect(a.err).toMatch(why);
    expect(a.out).toBe(''); // nothing started: no "listening" line
  });
  it('is in the help, with its keys', async () => {
    expect(SERVE_HELP).toMatch(/--serial-port PATH\[\?protocol=esp\|stm32&baud=N\]/);
    const a = io();
    expect(await serveCommand(['--help'], a)).toBe(0);
    expect(a.out).toContain('--serial-port');
  });
});
