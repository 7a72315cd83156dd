import * as tf from '@tensorflow/tfjs';
import { assertNumClasses, glorotUniform, HEAD_SEED_ORDINAL, REFERENCE_DROPOUT_RATES } from './architecture.js';
import { ModelError } from './errors.js';

/** Options of {@link replaceHead}. */
export interface ReplaceHeadOptions {
  /** Seed of the new head's glorot_uniform kernel (deterministic head). */
  seed?: number;
  /**
   * Omitted: keep the old model's dropout rates. false: every Dropout rate 0. true: the reference
   * rates (0.25, 0.25, 0.5) by layer name, for a model that was built with dropout off.
   */
  dropout?: boolean;
}

type LayerFactory = (cls: tf.serialization.SerializableConstructor<tf.serialization.Serializable>, config: tf.serialization.ConfigDict) => tf.serialization.Serializable;

/** Builds a fresh layer of the same class from a (possibly edited) config, via tfjs' registry. */
function layerFromConfig(className: string, config: tf.serialization.ConfigDict): tf.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className] as
    | [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, LayerFactory]
    | undefined;
  if (entry === undefined) throw new ModelError('E_MODEL_HEAD', `layer class ${className} is not registered with tfjs`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config) as tf.layers.Layer;
}

/**
 * Fine-tuning head swap: returns a NEW Sequential with the same layers (names, configs, weights,
 * trainable flags) as `model`, except that the last Dense layer (dense_2 in the reference network)
 * is replaced by a freshly initialised Dense(numClasses) of the same name (glorot_uniform kernel,
 * zero bias). The old model is neither changed nor disposed; weights are shared copy-on-write
 * (tfjs variables reassign rather than mutate), so later training of either model does not affect
 * the other.
 *
 * @throws ModelError E_MODEL_OPTIONS (numClasses), E_MODEL_HEAD (no Dense layer).
 */
export function replaceHead(model: tf.Sequential, numClasses: number, opts: ReplaceHeadOptions = {}): tf.Sequential {
  assertNumClasses(numClasses);
  const layers = model.layers;
  let headIndex = -1;
  for (let i = layers.length - 1; i >= 0; i--) {
    if (layers[i].getClassName() === 'Dense') {
      headIndex = i;
      break;
    }
  }
  if (headIndex < 0) throw new ModelError('E_MODEL_HEAD', `model ${model.name} has no Dense layer to replace`);

  const fresh = layers.map((layer, i) => {
    const config = layer.getConfig();
    if (i === headIndex) {
      return tf.layers.dense({
        name: layer.name,
        units: numClasses,
        activation: config['activation'] as Parameters<typeof tf.layers.dense>[0]['activation'],
        useBias: config['useBias'] as boolean,
        kernelInitializer: glorotUniform(opts.seed, HEAD_SEED_ORDINAL),
        biasInitializer: 'zeros',
      });
    }
    if (layer.getClassName() === 'Dropout' && opts.dropout !== undefined) {
      const reference = REFERENCE_DROPOUT_RATES[layer.name] ?? (config['rate'] as number);
      return layerFromConfig('Dropout', { ...config, rate: opts.dropout ? reference : 0 });
    }
    return layerFromConfig(layer.getClassName(), config);
  });

  const next = tf.sequential({ name: model.name, layers: fresh });
  next.layers.forEach((layer, i) => {
    // The setter (not the config) also flags the layer's variables, as freezeLayers does.
    layer.trainable = i === headIndex ? true : layers[i].trainable;
    // getWeights() returns the variables themselves; setWeights assigns their (immutable) data.
    if (i !== headIndex) layer.setWeights(layers[i].getWeights());
  });
  return next;
}
