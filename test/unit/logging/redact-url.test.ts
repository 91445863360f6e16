import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../../../src/logging/logger.ts';
import { redactUrls, redactUrlsIn } from '../../../src/logging/redact-url.ts';

describe('redactUrls: the userinfo of every URL in a text', () => {
  it.each([
    ['https://admin:pw@host:6443', 'https://<redacted>@host:6443'],
    ['https://admin@host:6443/prefix', 'https://<redacted>@host:6443/prefix'],
    ['https://a:p%40ss@10.0.0.1', 'https://<redacted>@10.0.0.1'],
    [
      'an unencoded @ in the password: https://admin:p@ss@host/x',
      'an unencoded @ in the password: https://<redacted>@host/x',
    ],
    ['an unencoded / in the password: ftp://admin:p/w@x', 'an unencoded / in the password: ftp://<redacted>@x'],
    ['wss://u:p@hub/connect and http://v:q@other', 'wss://<redacted>@hub/connect and http://<redacted>@other'],
    ['"https://admin:pw@host" is not valid', '"https://<redacted>@host" is not valid'],
    ['GET https://user:secret@[::1]:6443/api: 401', 'GET https://<redacted>@[::1]:6443/api: 401'],
    // Left as they are.
    ['https://host:6443/apis/x', 'https://host:6443/apis/x'],
    ['mail admin@example.com', 'mail admin@example.com'],
    ['', ''],
  ])('%s', (text, want) => {
    expect(redactUrls(text)).toBe(want);
  });

  it('goes through log fields without changing them in place', () => {
    const fields = { url: 'https://a:b@h', nested: { list: ['x', 'https://c:d@h'] }, n: 1, ok: true };
    expect(redactUrlsIn(fields)).toEqual({
      url: 'https://<redacted>@h',
      nested: { list: ['x', 'https://<redacted>@h'] },
      n: 1,
      ok: true,
    });
    expect(fields.url).toBe('https://a:b@h');
    const err = Object.assign(new Error('connect https://a:b@h failed'), { kind: 'unreachable' });
    expect(redactUrlsIn({ err })).toMatchObject({
      err: { type: 'Error', message: 'connect https://<redacted>@h failed', kind: 'unreachable' },
    });
  });
});

describe('the root logger redacts URL userinfo in every line', () => {
  it.each(['json', 'text'] as const)('%s', (format) => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const log = createRootLogger(2, stream, format).child({ component: 'registration' });
    log.info({ parent: 'https://admin:pw@host:6443' }, 'registered with https://admin:pw@host:6443');
    log.warn({ err: new Error('dial https://admin:pw@host:6443: refused') }, 'failed');
    log.info('plain https://admin:pw@host');
    const out = chunks.join('');
    expect(out.split('\n').filter(Boolean)).toHaveLength(3);
    expect(out).not.toContain('pw@');
    expect(out).not.toContain('admin');
    // The field, the two messages, the error's message and the first line of its stack.
    expect(out.match(/https:\/\/<redacted>@host/g)).toHaveLength(5);
  });
});
