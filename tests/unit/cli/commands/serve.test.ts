// `serve --serial-port PATH[?protocol=&baud=]` and `serve --mqtt`: a bad spec, station id or password flag is a usage
// error (exit 2) naming the flag, before anything starts.
import { describe, expect, it } from 'vitest';
import { serveCommand } from '../../../../src/cli/commands/serve.js';
import { main } from '../../../../src/cli/main.js';
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

describe('serve --mqtt', () => {
  it.each(['line/1', 'line+1', 'line#1', '$SYS'])('refuses the station id %j at start with exit 2, before anything starts', async (id) => {
    const a = io();
    expect(await serveCommand(['--port', '0', '--no-usb', '--no-serial', '--mqtt', 'mqtt://127.0.0.1:1883', '--station-id', id], a)).toBe(2);
    expect(a.err).toMatch(/--station-id ".*" refused/);
    expect(a.out).toBe('');
  });
  it('takes the broker password from a file only, never from the command line or the URL', async () => {
    const flag = io();
    expect(await main(['serve', '--port', '0', '--mqtt', 'mqtt://127.0.0.1:1883', '--mqtt-password', 'secret'], flag)).toBe(2);
    expect(flag.err).toMatch(/Unknown option '--mqtt-password'/);
    const url = io();
    expect(await serveCommand(['--port', '0', '--no-usb', '--no-serial', '--mqtt', 'mqtt://u:secret@127.0.0.1:1883'], url)).toBe(2);
    expect(url.err).toMatch(/--mqtt-password-file/);
    expect(url.out).toBe('');
  });
});
