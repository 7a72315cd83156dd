import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envPairs, parseDockerfile } from './dockerfile.js';

// Offline: the image is not built here (no Docker); these are the recipe's promises, read from it.
const dockerfile = parseDockerfile(readFileSync(fileURLToPath(new URL('../docker/Dockerfile', import.meta.url)), 'utf8'));
const dockerignore = readFileSync(fileURLToPath(new URL('../../.dockerignore', import.meta.url)), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const runs = dockerfile.filter((i) => i.keyword === 'RUN').map((i) => i.args);

describe('deploy/docker/Dockerfile', () => {
  it('parses continued lines and skips comments', () => {
    expect(parseDockerfile('# c\nFROM a\nRUN x \\\n  # inner comment\n  && y\n')).toEqual([
      { keyword: 'FROM', args: 'a' },
      { keyword: 'RUN', args: 'x && y' },
    ]);
    expect(envPairs('A=1 B="two words"')).toEqual(new Map([['A', '1'], ['B', 'two words']]));
  });

  it('builds on one slim official Node.js image, 20 or newer', () => {
    const from = dockerfile.filter((i) => i.keyword === 'FROM').map((i) => i.args);
    expect(from).toHaveLength(1);
    const m = /^node:(\d+)(?:\.\d+)*(?:-[a-z]+)?-slim(?:@sha256:[0-9a-f]{64})?$/.exec(from[0] ?? '');
    expect(m, from[0]).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(20);
  });

  it('installs the Vulkan loader and asks the NVIDIA runtime for the graphics capability', () => {
    expect(runs.some((r) => /\bapt-get install\b.*(?<![\w.-])libvulkan1(?![\w.-])/.test(r))).toBe(true);
    const env = new Map(dockerfile.filter((i) => i.keyword === 'ENV').flatMap((i) => [...envPairs(i.args)]));
    expect(env.get('NVIDIA_DRIVER_CAPABILITIES')?.split(',').sort()).toEqual(['compute', 'graphics', 'utility']);
  });

  it('installs from the lockfile and runs as a non-root user', () => {
    const lock = dockerfile.findIndex((i) => i.keyword === 'COPY' && /\bpackage-lock\.json\b/.test(i.args));
    const ci = dockerfile.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(lock);
    const user = dockerfile.filter((i) => i.keyword === 'USER').at(-1)?.args ?? 'root';
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('keeps data, runs and local installs out of the image', () => {
    for (const entry of ['data', 'runs', '**/node_modules', '.git']) expect(dockerignore).toContain(entry);
    const copies = dockerfile.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => i.args);
    expect(copies.filter((c) => /\bdata\b|shared|https?:/.test(c))).toEqual([]);
  });
});
