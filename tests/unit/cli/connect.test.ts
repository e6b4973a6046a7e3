// explainConnectError: what a client command says when it cannot use the station, one case per cause.
import { describe, expect, it } from 'vitest';
import { explainConnectError } from '../../../src/cli/connect.js';

const url = 'ws://127.0.0.1:3001/flash-progress';
const shape = "a station's address is ws://HOST:PORT/flash-progress (wss:// with TLS)";

describe('explainConnectError', () => {
  it('nothing listening: start a station or pass --url', () => {
    expect(explainConnectError('unreachable', `Cannot reach the station at ${url} (1006: connect ECONNREFUSED 127.0.0.1:3001).`, url, undefined))
      .toBe('no station answered there. Start `flash-station serve`, or pass --url of the running station.');
  });

  it('a web server that is not a station: says something answered, and what a station address looks like', () => {
    expect(explainConnectError('unreachable', 'Cannot reach the station (1006: Unexpected server response: 501).', url, undefined))
      .toBe(`something answered there, but not as a Flash Station (Cannot reach the station (1006: Unexpected server response: 501).). Check --url: ${shape}.`);
    expect(explainConnectError('unreachable', 'x (1006: not an HTTP answer: "SSH-2.0-OpenSSH")', url, undefined)).toMatch(/^something answered there, but not as a Flash Station/);
    expect(explainConnectError('unreachable', 'x (1006: Invalid Sec-WebSocket-Accept header)', url, undefined)).toMatch(/^something answered there/);
  });

  it('a 404 (another web server, or a wrong path): names the path asked for and the station\'s', () => {
    expect(explainConnectError('unreachable', 'x (1006: Unexpected server response: 404)', url, undefined))
      .toBe(`the server there has no WebSocket at /flash-progress (404); ${shape}.`);
  });

  it('a busy station (503) and a TLS station met over plain ws:// (400 or a hang-up)', () => {
    expect(explainConnectError('unreachable', 'x (1006: Unexpected server response: 503)', url, undefined)).toMatch(/^it is busy \(503/);
    expect(explainConnectError('unreachable', 'x (1006: Unexpected server response: 400)', url, undefined))
      .toBe('something there refused the WebSocket handshake. If the station serves TLS (--tls-cert), use wss://127.0.0.1:3001/flash-progress and --ca FILE.');
    expect(explainConnectError('unreachable', 'x (1006: socket hang up)', 'http://h:1/flash-progress', undefined))
      .toBe('something there hung up before the WebSocket handshake. If the station serves TLS (--tls-cert), use wss://h:1/flash-progress and --ca FILE.');
  });

  it('TLS: an untrusted certificate (with and without --ca), and a plain server met over wss:// or https://', () => {
    expect(explainConnectError('unreachable', 'x (1006: self-signed certificate)', 'wss://h:1/', undefined)).toMatch(/Pass --ca FILE/);
    expect(explainConnectError('unreachable', 'x (1006: self-signed certificate)', 'wss://h:1/', 'ca.pem')).toMatch(/--ca ca\.pem did not vouch for it/);
    expect(explainConnectError('unreachable', 'x (1006: EPROTO wrong version number)', 'https://h:1/flash-progress', undefined))
      .toBe('it does not speak TLS on that port. Use ws://h:1/flash-progress (a station serves wss:// only with --tls-cert and --tls-key).');
  });

  it('a refused token, and an address that is not a WebSocket one', () => {
    expect(explainConnectError('unauthorized', 'Wrong token.', url, undefined)).toBe('the station refused the token (Wrong token.)');
    expect(explainConnectError('bad_url', 'Cannot connect to ftp://h/: the address must start with ws:// or wss://', 'ftp://h/', undefined))
      .toBe(`the address must start with ws:// or wss://; ${shape}.`);
  });
});
