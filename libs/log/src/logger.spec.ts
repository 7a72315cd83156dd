import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logAt } from './logger.js';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with role, level, bindings and message', async () => {
    const { stream, lines } = capture();
    const logger = createLogger('worker', { pretty: false, destination: stream }).child({ rank: 1 });
    logAt(logger)('joined run r1');
    logger.warn('slow step');
    await new Promise((r) => setImmediate(r));
    const [a, b] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 30, role: 'worker', rank: 1, msg: 'joined run r1' });
    expect(b).toMatchObject({ level: 40, role: 'worker', rank: 1, msg: 'slow step' });
    expect(typeof a?.['time']).toBe('number');
  });

  it('drops lines below the level', async () => {
    const { stream, lines } = capture();
    const logger = createLogger('coordinator', { pretty: false, destination: stream, level: 'warn' });
    logger.info('hidden');
    logger.debug('hidden too');
    logger.error('shown');
    await new Promise((r) => setImmediate(r));
    expect(lines().map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
  });

  it('writes readable lines when pretty', async () => {
    const { stream, lines } = capture();
    createLogger('train', { pretty: true, destination: stream }).info('starting 2 workers');
    await new Promise((r) => setTimeout(r, 20));
    expect(lines().join('\n')).toMatch(/INFO.*starting 2 workers/);
  });
});
