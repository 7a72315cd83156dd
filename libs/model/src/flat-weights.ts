import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.js';
import { sizeOfShape, weightShape } from './param-count.js';

/** Which weights a flat vector covers: every weight, or only `model.trainableWeights`. */
export type WeightSelection = 'all' | 'trainable';

/** Where one weight tensor lives inside a flat vector. */
export interface WeightSpec {
  /** Keras-style weight name without tfjs' uniqueness suffix, e.g. `conv2d_1/kernel`. */
  name: string;
  /** e.g. `[3, 3, 3, 32]` for conv2d_1/kernel (kh, kw, in, out), `[32]` for its bias. */
  shape: number[];
  /** Number of float32 values (product of `shape`). */
  size: number;
  /** Index of the first value in the flat vector. */
  offset: number;
}

/**
 * Layer by layer rather than `model.weights`: tfjs (like Keras) lists a container's weights as
 * trainable-then-frozen, so `model.weights` reorders when layers are frozen, which would move
 * values around in checkpoints and messages. Within a layer the order is kernel, bias.
 */
export function selectedWeights(model: tf.LayersModel, which: WeightSelection): tf.LayerVariable[] {
  return model.layers.flatMap((layer) => (which === 'all' ? layer.weights : layer.trainableWeights));
}

/**
 * Layout of a flat weight vector: layer order, kernel then bias within a layer, values row-major;
 * 'trainable' keeps only the trainable layers' weights (the order of `model.trainableWeights`).
 * 'all' does not change when layers are frozen. This is the one layout shared by gradients,
 * averaging, the wire protocol and checkpoints.
 */
export function weightSpecs(model: tf.LayersModel, which: WeightSelection): WeightSpec[] {
  let offset = 0;
  return selectedWeights(model, which).map((w) => {
    const shape = weightShape(w);
    const size = sizeOfShape(shape);
    const spec: WeightSpec = { name: w.originalName, shape: [...shape], size, offset };
    offset += size;
    return spec;
  });
}

/** Total length of the flat vector for this selection. */
export function flatLength(model: tf.LayersModel, which: WeightSelection): number {
  return selectedWeights(model, which).reduce((s, w) => s + sizeOfShape(weightShape(w)), 0);
}

/**
 * Copies the selected weights into one new Float32Array laid out as {@link weightSpecs}.
 * Reads synchronously (dataSync): for CPU-side backends (cpu, wasm, tensorflow) only; a GPU
 * backend (webgpu) cannot read synchronously in Node: use {@link readWeightsFlat}.
 */
export function getWeightsFlat(model: tf.LayersModel, which: WeightSelection): Float32Array {
  const vars = selectedWeights(model, which);
  const out = new Float32Array(flatLength(model, which));
  let offset = 0;
  for (const v of vars) offset += copyValues(v.read(), out, offset);
  return out;
}

/** {@link getWeightsFlat} for any backend: reads the values asynchronously (one read-back on a GPU). */
export async function readWeightsFlat(model: tf.LayersModel, which: WeightSelection): Promise<Float32Array> {
  const out = new Float32Array(flatLength(model, which));
  await readValuesInto(selectedWeights(model, which).map((v) => v.read()), out, []);
  return out;
}

/**
 * Copies a float32 tensor's values into `out` at `offset` and returns how many: on wasm straight
 * from the heap (dataSync would first copy into a fresh array, 5 MB of garbage per step for the
 * gradients), elsewhere through dataSync.
 */
export function copyValues(t: tf.Tensor, out: Float32Array, offset: number): number {
  const backend = tf.engine().backend;
  if (t.dtype === 'float32' && tf.getBackend() === 'wasm' && isWasmHeapBackend(backend)) {
    const view = backend.typedArrayFromHeap(t);
    out.set(view, offset);
    return view.length;
  }
  const values = t.dataSync() as Float32Array;
  out.set(values, offset);
  return values.length;
}

/**
 * Reads `parts` one after the other into `out` (a number stands for that many zeros, e.g. a
 * weight the loss does not reach), and returns the values of each of `extra`, which are small
 * (a loss, predictions). On a CPU-side backend the reads are synchronous copies; on any other
 * (webgpu) all of it is concatenated on the device and read back once, since every read-back is
 * a round trip to the GPU.
 *
 * @throws ModelError E_MODEL_WEIGHTS_LENGTH when the parts do not fill `out` exactly.
 */
export async function readValuesInto(
  parts: ReadonlyArray<tf.Tensor | number>,
  out: Float32Array,
  extra: readonly tf.Tensor[],
): Promise<Array<ArrayLike<number>>> {
  const total = parts.reduce<number>((n, p) => n + (typeof p === 'number' ? p : p.size), 0);
  if (total !== out.length) {
    throw new ModelError('E_MODEL_WEIGHTS_LENGTH', `${total} values to read into an array of ${out.length}`);
  }
  if (parts.length === 0 && extra.length === 0) return []; // e.g. every layer frozen
  if (SYNC_READ_BACKENDS.has(tf.getBackend())) {
    let offset = 0;
    for (const p of parts) {
      if (typeof p === 'number') out.fill(0, offset, offset + p);
      else copyValues(p, out, offset);
      offset += typeof p === 'number' ? p : p.size;
    }
    return extra.map((t) => t.dataSync());
  }
  const flat = tf.tidy(() =>
    tf.concat(
      [...parts, ...extra].map((p) => (typeof p === 'number' ? tf.zeros([p]) : tf.cast(tf.reshape(p, [-1]), 'float32'))),
    ),
  );
  try {
    const values = (await flat.data()) as Float32Array;
    out.set(values.subarray(0, total));
    let offset = total;
    return extra.map((t) => {
      const v = values.subarray(offset, offset + t.size);
      offset += t.size;
      return v;
    });
  } finally {
    flat.dispose();
  }
}

/** Backends whose tensors live in host memory: reading them synchronously costs nothing extra. */
const SYNC_READ_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * Overwrites the selected weights from a flat vector laid out as {@link weightSpecs}. The values
 * are copied (the caller may reuse `flat`); no tensor outlives the call except the variables'
 * new values.
 *
 * @throws ModelError E_MODEL_WEIGHTS_LENGTH when `flat.length` is not the selection's size.
 */
export function setWeightsFlat(model: tf.LayersModel, flat: Float32Array, which: WeightSelection): void {
  const expected = flatLength(model, which);
  if (flat.length !== expected) {
    throw new ModelError(
      'E_MODEL_WEIGHTS_LENGTH',
      `expected ${expected} values for the '${which}' weights of model ${model.name}, got ${flat.length}`,
    );
  }
  // The wasm backend copies a new tensor's values into its heap at once, so a view of the caller's
  // array will do there; other backends (cpu) may keep the array itself: they get a copy. (Writing
  // into a variable's memory in place is not an option: the wasm backend caches XNNPACK operators
  // with their weights packed, keyed by tensor, and would go on using the old weights.)
  const view = tf.getBackend() === 'wasm';
  let offset = 0;
  for (const v of selectedWeights(model, which)) {
    const shape = weightShape(v);
    const size = sizeOfShape(shape);
    const values = flat.subarray(offset, offset + size);
    const value = tf.tensor(view ? values : values.slice(), shape, 'float32');
    v.write(value);
    value.dispose();
    offset += size;
  }
}

/** The part of tfjs-backend-wasm's API that reading its heap needs. */
interface WasmHeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

function isWasmHeapBackend(b: tf.KernelBackend): b is tf.KernelBackend & WasmHeapBackend {
  return typeof (b as Partial<WasmHeapBackend>).typedArrayFromHeap === 'function';
}

