import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BIND_OPTIONS, bindFlags } from '../../../src/cli/bind-flags.js';

const parse = (args: string[]) => parseArgs({ args, options: BIND_OPTIONS, strict: true }).values;

describe('bind flags', () => {
  it('map to the launch options: TLS files, repeated public names, plain HTTP only when asked', () => {
    expect(bindFlags(parse(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--public-name', 'a.lan', '--public-name', 'b.lan']))).toEqual({
      tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem', publicNames: ['a.lan', 'b.lan'], insecureNoTls: false,
    });
    expect(bindFlags(parse(['--insecure-no-tls']))).toEqual({ publicNames: [], insecureNoTls: true });
    expect(bindFlags(parse([]))).toEqual({ publicNames: [], insecureNoTls: false });
  });
});
