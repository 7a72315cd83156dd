import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { tsconfigPaths: true },
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    name: 'cli',
    include: ['src/**/*.spec.ts'],
    globalSetup: ['src/global-setup.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
