import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  describeProxy,
  direct,
  proxyAgentFor,
  proxyFromEnvironment,
  withProxy,
  type ProxyEnv,
} from '../../../src/kube/proxy.ts';
import { ipBytes } from '../../../src/net/address.ts';

const proxyOf = (env: ProxyEnv, url: string): string => proxyFromEnvironment(env)(url)?.href ?? '<nil>';

// The cases of golang.org/x/net/http/httpproxy's proxy_test.go (what client-go does), URL for URL.
describe('proxyFromEnvironment: Go’s ProxyFromEnvironment', () => {
  it.each<[ProxyEnv, string, string]>([
    [{ HTTP_PROXY: '127.0.0.1:8080' }, 'http://example.com', 'http://127.0.0.1:8080/'],
    [{ HTTP_PROXY: 'cache.corp.example.com:1234' }, 'http://example.com', 'http://cache.corp.example.com:1234/'],
    [{ HTTP_PROXY: 'cache.corp.example.com' }, 'http://example.com', 'http://cache.corp.example.com/'],
    [{ HTTP_PROXY: 'localhost' }, 'http://example.com', 'http://localhost/'],
    [{ HTTP_PROXY: 'https://cache.corp.example.com' }, 'http://example.com', 'https://cache.corp.example.com/'],
    [{ HTTP_PROXY: 'http://127.0.0.1:8080' }, 'http://example.com', 'http://127.0.0.1:8080/'],
    [{ HTTP_PROXY: 'https://127.0.0.1:8080' }, 'http://example.com', 'https://127.0.0.1:8080/'],
    [{ HTTP_PROXY: 'socks5://127.0.0.1' }, 'http://example.com', 'socks5://127.0.0.1'],
    [
      { HTTP_PROXY: 'http.proxy.tld', HTTPS_PROXY: 'secure.proxy.tld' },
      'http://insecure.tld/',
      'http://http.proxy.tld/',
    ],
    [
      { HTTP_PROXY: 'http.proxy.tld', HTTPS_PROXY: 'secure.proxy.tld' },
      'https://secure.tld/',
      'http://secure.proxy.tld/',
    ],
    [
      { HTTP_PROXY: 'http.proxy.tld', HTTPS_PROXY: 'https://secure.proxy.tld' },
      'https://secure.tld/',
      'https://secure.proxy.tld/',
    ],
    [{ HTTP_PROXY: 'http.proxy.tld' }, 'https://secure.tld/', '<nil>'],
    [{ HTTP_PROXY: 'http.proxy.tld' }, 'ftp://insecure.tld/', '<nil>'],
    [{}, 'http://example.com', '<nil>'],
    [{ NO_PROXY: 'example.com', HTTP_PROXY: 'proxy' }, 'http://example.com/', '<nil>'],
    [{ NO_PROXY: '.example.com', HTTP_PROXY: 'proxy' }, 'http://example.com/', 'http://proxy/'],
    [{ NO_PROXY: 'ample.com', HTTP_PROXY: 'proxy' }, 'http://example.com/', 'http://proxy/'],
    [{ NO_PROXY: 'example.com', HTTP_PROXY: 'proxy' }, 'http://foo.example.com/', '<nil>'],
    [{ NO_PROXY: '.foo.com', HTTP_PROXY: 'proxy' }, 'http://example.com/', 'http://proxy/'],
    [{ NO_PROXY: '.示例.com', HTTP_PROXY: 'proxy' }, 'http://www.示例.com', '<nil>'],
    [{ NO_PROXY: 'xn--fsq092h.com', HTTP_PROXY: 'proxy' }, 'http://www.示例.com', '<nil>'],
    [{ NO_PROXY: '示例.com', HTTP_PROXY: 'proxy' }, 'http://www.xn--fsq092h.com', '<nil>'],
  ])('%j, %s → %s', (env, url, want) => {
    expect(proxyOf(env, url)).toBe(want);
  });

  it.each<[ProxyEnv, string]>([
    [{ HTTPS_PROXY: 'upper', https_proxy: 'lower' }, 'http://upper/'],
    [{ https_proxy: 'lower' }, 'http://lower/'],
    [{ HTTPS_PROXY: '', https_proxy: 'lower' }, 'http://lower/'],
  ])('upper case first, then lower case: %j → %s', (env, want) => {
    expect(proxyOf(env, 'https://parent:6443')).toBe(want);
  });

  it('has no ALL_PROXY (proxy-from-env has; Go does not)', () => {
    expect(proxyOf({ ALL_PROXY: 'http://p:1' }, 'https://parent:6443')).toBe('<nil>');
  });

  it.each<[string, string]>([
    ['NO_PROXY', 'parent'],
    ['no_proxy', 'parent'],
  ])('%s is read too', (name, value) => {
    expect(proxyOf({ HTTPS_PROXY: 'p:3128', [name]: value }, 'https://parent:6443')).toBe('<nil>');
  });

  // Go's TestUseProxy, against the same NO_PROXY, each host on port 80.
  const noProxy =
    'foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, ' +
    '2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64';
  it.each<[string, boolean]>([
    ['localhost', false],
    ['127.0.0.1', false],
    ['127.0.0.2', false],
    ['[::1]', false],
    ['[::2]', true],
    ['[::ffff:127.0.0.1]', false],
    ['192.168.1.1', false],
    ['192.168.1.2', true],
    ['192.168.1.3', false],
    ['192.168.1.4', true],
    ['10.0.0.2', false],
    ['10.0.0.4', true],
    ['[::ffff:10.0.0.2]', false],
    ['[2001:db8::52:0:1]', false],
    ['[2001:db8::52:0:2]', true],
    ['[2001:db8::52:0:3]', false],
    ['[2002:db8:a::123]', false],
    ['[fe80::424b:c8be:1643:a1b6]', true],
    ['barbaz.net', true],
    ['www.barbaz.net', false],
    ['foobar.com', false],
    ['www.foobar.com', false],
    ['foofoobar.com', true],
    ['baz.com', true],
    ['localhost.net', true],
    ['local.localhost', true],
    ['barbarbaz.net', true],
    ['wildcard.io', true],
    ['nested.wildcard.io', false],
    ['awildcard.io', true],
  ])('NO_PROXY: %s proxied: %s', (host, proxied) => {
    const env = { HTTP_PROXY: 'http://proxy.example.org', NO_PROXY: noProxy };
    expect(proxyFromEnvironment(env)(`http://${host}:80`) !== undefined).toBe(proxied);
    expect(proxyFromEnvironment({ ...env, NO_PROXY: '*' })(`http://${host}:80`)).toBeUndefined();
  });

  it('an invalid NO_PROXY entry is ignored', () => {
    expect(proxyOf({ HTTP_PROXY: 'p', NO_PROXY: ':1' }, 'http://example.com')).toBe('http://p/');
  });

  it('a port in NO_PROXY matches the default port of the scheme', () => {
    const env = { HTTPS_PROXY: 'p', NO_PROXY: 'parent:443,other:6443' };
    expect(proxyOf(env, 'https://parent')).toBe('<nil>');
    expect(proxyOf(env, 'https://parent:6443')).toBe('http://p/');
    expect(proxyOf(env, 'https://other:6443')).toBe('<nil>');
  });

  it('reads only the environment given, never the process’s', () => {
    process.env.HTTPS_PROXY = 'http://from-the-process:1';
    try {
      expect(proxyOf({}, 'https://parent:6443')).toBe('<nil>');
    } finally {
      delete process.env.HTTPS_PROXY;
    }
  });
});

describe('ipBytes', () => {
  it.each<[string, number[] | undefined]>([
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::ffff:10.1.2.3', [10, 1, 2, 3]],
    ['::ffff:a01:203', [10, 1, 2, 3]],
    ['::1', [...Array<number>(15).fill(0), 1]],
    ['2001:db8::1', [0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), 1]],
    ['010.1.2.3', undefined],
    ['example.com', undefined],
  ])('%s → %j', (s, want) => {
    expect(ipBytes(s)).toEqual(want);
  });
});

describe('withProxy', () => {
  const kc = (proxyUrl?: string): KubeConfig => {
    const k = new KubeConfig();
    k.loadFromOptions({
      clusters: [
        { name: 'c', server: 'https://10.96.0.1:443', skipTLSVerify: false, ...(proxyUrl ? { proxyUrl } : {}) },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return k;
  };
  const env = proxyFromEnvironment({ HTTPS_PROXY: 'http://proxy:3128' });

  it('sets the environment’s proxy on a cluster without one', () => {
    expect(withProxy(kc(), env).getCurrentCluster()?.proxyUrl).toBe('http://proxy:3128/');
  });
  it('keeps a kubeconfig’s own proxy-url (client-go: rest.Config.Proxy wins)', () => {
    expect(withProxy(kc('socks5://mine:1080'), env).getCurrentCluster()?.proxyUrl).toBe('socks5://mine:1080');
  });
  it('leaves the cluster alone when NO_PROXY covers it (the service CIDR)', () => {
    const covered = proxyFromEnvironment({ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '10.96.0.0/12' });
    expect(withProxy(kc(), covered).getCurrentCluster()?.proxyUrl).toBeUndefined();
    expect(withProxy(kc(), direct).getCurrentCluster()?.proxyUrl).toBeUndefined();
  });
});

describe('proxyAgentFor (the tunnel’s websocket)', () => {
  const env = proxyFromEnvironment({ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'direct.example' });
  it('looks wss: up as https:', () => {
    expect(proxyAgentFor('wss://parent.example:6443/connect', env)?.proxy.href).toBe('http://proxy:3128/');
    expect(proxyAgentFor('wss://direct.example:6443/connect', env)).toBeUndefined();
    expect(proxyAgentFor('wss://127.0.0.1:6443/connect', env)).toBeUndefined();
  });
  it('refuses a SOCKS proxy rather than going around it', () => {
    const socks = proxyFromEnvironment({ HTTPS_PROXY: 'socks5://user:secret@s:1080' });
    expect(() => proxyAgentFor('wss://parent:6443', socks)).toThrow(/socks5:\/\/s:1080: only http/);
  });
});

describe('describeProxy', () => {
  it('leaves credentials out', () => {
    expect(describeProxy(new URL('http://user:secret@proxy:3128'))).toBe('http://proxy:3128');
  });
});
