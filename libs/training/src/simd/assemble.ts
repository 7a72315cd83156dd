import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

/** kernels.wat, the source of the committed binary (kernels-binary.ts). */
export const KERNELS_WAT = fileURLToPath(new URL('./kernels.wat', import.meta.url));

/**
 * Assembles kernels.wat with wabt (wat2wasm, SIMD enabled, no debug names): the bytes that
 * kernels-binary.ts must hold. Development only (build script and test).
 */
export async function assembleKernels(): Promise<Uint8Array> {
  const tools = await wabt();
  const module = tools.parseWat('kernels.wat', await readFile(KERNELS_WAT, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({ write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}
