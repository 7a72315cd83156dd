import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Offline checks of deploy/: the Kubernetes manifests against the API schemas, and the Dockerfile.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    name: 'deploy',
    include: ['test/**/*.spec.ts'],
    environment: 'node',
    testTimeout: 30_000,
    pool: 'forks',
  },
});
