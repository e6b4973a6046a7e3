// Host and Origin rules of contract §4: loopback names with the port, own origins, --allow-origin, wildcard binds.
import { describe, expect, it } from 'vitest';
import { createGuards } from '../../../src/server/guards.js';

describe('guards', () => {
  const local = createGuards({ host: '127.0.0.1', port: () => 3001, allowOrigins: ['https://tools.example/'] });
  it('accepts loopback Host headers with the port only', () => {
    for (const ok of ['localhost:3001', '127.0.0.1:3001', '[::1]:3001', 'LOCALHOST:3001']) expect(local.hostAllowed(ok), ok).toBe(true);
    for (const bad of [undefined, '', 'localhost', 'localhost:3002', 'evil.example:3001', '127.0.0.1.evil.example:3001', '10.0.0.1:3001']) {
      expect(local.hostAllowed(bad), String(bad)).toBe(false);
    }
  });
  it('accepts no Origin, its own origins and allowed ones', () => {
    for (const ok of [undefined, 'http://127.0.0.1:3001', 'http://localhost:3001', 'https://tools.example']) expect(local.originAllowed(ok), String(ok)).toBe(true);
    for (const bad of ['null', 'http://127.0.0.1:3002', 'https://127.0.0.1:3001', 'http://evil.example', 'https://tools.example.evil', 'file://']) {
      expect(local.originAllowed(bad), bad).toBe(false);
    }
  });
  it('accepts its own address when bound to one on purpose, and only known names when bound to every interface', () => {
    const lan = createGuards({ host: '192.168.1.5', port: () => 80, allowOrigins: [] });
    expect(lan.hostAllowed('192.168.1.5')).toBe(true);
    expect(lan.hostAllowed('evil.example')).toBe(false);
    expect(lan.originAllowed('http://192.168.1.5:80')).toBe(true);
    expect(lan.originAllowed('http://192.168.1.5')).toBe(true);
    const any = createGuards({ host: '0.0.0.0', port: () => 3001, allowOrigins: [], localNames: () => ['bench7', '192.168.1.5'], publicNames: ['station.lan'] });
    for (const ok of ['station.lan:3001', 'bench7:3001', '192.168.1.5:3001', 'localhost:3001']) expect(any.hostAllowed(ok), ok).toBe(true);
    // DNS rebinding: an attacker's name pointing at this machine is still refused.
    expect(any.hostAllowed('rebind.evil.example:3001')).toBe(false);
    expect(any.originAllowed('http://station.lan:3001')).toBe(true);
    expect(any.originAllowed('http://rebind.evil.example:3001')).toBe(false);
    expect(any.originAllowed('http://evil.example')).toBe(false);
  });

  it('with TLS, takes https origins of its names and the default port 443 without a port', () => {
    const tls = createGuards({ host: '0.0.0.0', port: () => 443, allowOrigins: [], tls: true, localNames: () => [], publicNames: ['station.lan'] });
    expect(tls.hostAllowed('station.lan')).toBe(true);
    expect(tls.hostAllowed('station.lan:443')).toBe(true);
    expect(tls.originAllowed('https://station.lan')).toBe(true);
    expect(tls.originAllowed('http://station.lan')).toBe(false);
    expect(tls.ownOrigins()).toContain('https://localhost:443');
  });
});
