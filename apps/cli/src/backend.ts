import { selectBackend, type BackendChoice, type BackendName } from '@cifar-dist/model';

/**
 * Activates the TensorFlow.js backend the commands compute on: by default 'wasm', the backend the
 * training workers run on this kind of machine, so the figures match report.json's; `selectBackend`
 * also installs the wasm conv-gradient kernels, as in the worker. Another rung can be forced.
 *
 * @throws ModelError E_BACKEND_UNAVAILABLE when the backend cannot be initialised
 */
export async function useBackend(name: BackendName = 'wasm', log?: (msg: string) => void): Promise<BackendChoice> {
  return selectBackend({ force: name, ...(log ? { log } : {}) });
}
