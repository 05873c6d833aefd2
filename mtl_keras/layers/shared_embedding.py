"""Embeds every categorical feature of a FeatureSpec and appends its standardised numeric features."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Tuple

import numpy as np

import tensorflow as tf
import tf_keras as keras

from mtl_keras.features import CategoricalFeature, FeatureSpec


@keras.utils.register_keras_serializable(package="mtl_keras")
class SharedEmbedding(keras.layers.Layer):
    """Feature dict -> one float tensor `[batch, output_dim]`.

    `feature_spec` is `FeatureSpec.to_dict()` (a `FeatureSpec` is accepted and converted). Inputs:
    a dict name -> `[batch]` or `[batch, 1]` tensor; keys not in the spec are ignored.

    - One embedding table per `table_name`: features with the same `shared_table` look up the
      same rows. Tables of equal `embedding_dim` are stored as row blocks of one variable
      (`embeddings_dim{d}`), so a step does one gather and one sparse gradient per dimension
      instead of one per table; `table(name)` returns a table's rows.
    - Vocabulary features take integer ids in `[0, vocabulary_size)`; an id outside fails the step
      with an InvalidArgumentError naming the features. Features with a learned vocabulary take
      the ids `mtl_keras.vocabulary.lookup` gives their raw values.
    - Hash-bucket features take integer or string ids; integers are formatted as decimal strings,
      and the bucket is `tf.strings.to_hash_bucket_fast` (FarmHash Fingerprint64 mod buckets),
      the same as `tf.feature_column.categorical_column_with_hash_bucket`: deterministic across
      runs and machines.
    - Numeric features become `(x - mean) / std`, computed in float32.

    Under a mixed precision policy the output has the policy's compute dtype.

    Output columns: the embeddings in spec order of the categorical features, then the numerics.
    """

    def __init__(self, feature_spec: Dict[str, Any], embeddings_initializer: Any = "uniform",
                 embeddings_l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(embeddings_l2, (int, float)) and embeddings_l2 >= 0.0):
            raise ValueError(f"SharedEmbedding: embeddings_l2 must be a float >= 0, received {embeddings_l2!r}.")
        self.embeddings_l2 = float(embeddings_l2)
        if isinstance(feature_spec, FeatureSpec):
            feature_spec = feature_spec.to_dict()
        if not isinstance(feature_spec, Mapping):
            raise ValueError(
                f"SharedEmbedding: `feature_spec` must be the dict from FeatureSpec.to_dict(), received "
                f"{type(feature_spec).__name__}. Fix: pass spec.to_dict()."
            )
        self.spec = FeatureSpec.from_dict(dict(feature_spec))  # validates and normalises
        pending = [f.name for f in self.spec.categorical if f.num_rows is None]
        if pending:
            raise ValueError(
                f"SharedEmbedding: features {pending} have num_oov_buckets but no vocabulary yet. Fix: spec = "
                "mtl_keras.vocabulary.learn_vocabularies(spec, train_frame) before building the model."
            )
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self._blocks = _row_blocks(self.spec)

    @property
    def feature_spec(self) -> Dict[str, Any]:
        return self.spec.to_dict()

    @property
    def output_dim(self) -> int:
        return sum(f.embedding_dim for f in self.spec.categorical) + len(self.spec.numeric)

    def build(self, input_shape):
        self.embeddings = []
        for block in self._blocks:
            # A fresh copy per variable: one unseeded instance would give every variable the same values.
            initializer = keras.initializers.deserialize(keras.initializers.serialize(self.embeddings_initializer))
            self.embeddings.append(self.add_weight(
                name=f"embeddings_dim{block.dim}", shape=(block.rows, block.dim), initializer=initializer))
        super().build(input_shape)

    def table(self, table_name: str) -> tf.Tensor:
        """The rows `[num_rows, embedding_dim]` of one table (build the layer first)."""
        if not self.built:
            raise ValueError("SharedEmbedding.table: the layer has no variables yet; call it on a batch first.")
        for variable, block in zip(self.embeddings, self._blocks):
            for feature, start in zip(block.features, block.starts):
                if feature.table_name == table_name:
                    return variable[start:start + feature.num_rows]
        tables = sorted({f.table_name for f in self.spec.categorical})
        raise ValueError(f"SharedEmbedding: no table {table_name!r}; tables are {tables}.")

    def call(self, inputs):
        if not isinstance(inputs, Mapping):
            raise ValueError(
                f"SharedEmbedding: inputs must be a dict feature name -> tensor, received {type(inputs).__name__}."
            )
        missing = [n for n in self.spec.names if n not in inputs]
        if missing:
            raise ValueError(
                f"SharedEmbedding: features {missing} of the FeatureSpec are missing from the inputs "
                f"(received keys {sorted(inputs)}). Fix: feed them or remove them from the spec."
            )
        columns: List[tf.Tensor] = []
        per_feature: Dict[str, tf.Tensor] = {}
        for variable, block in zip(self.embeddings, self._blocks):
            ids = tf.stack([self._row_ids(f, inputs[f.name]) for f in block.features], axis=1)  # [batch, F]
            ids = self._check_range(block.features, ids)
            # 1-D ids: a partitioned variable (ParameterServerStrategy) only accepts those.
            rows = tf.reshape(ids + np.array(block.starts, np.int64), [-1])
            vectors = tf.reshape(tf.gather(variable, rows), [-1, len(block.features), block.dim])  # [batch, F, dim]
            if self.embeddings_l2:
                self._add_l2(vectors)
            if len(self._blocks) == 1:
                columns.append(tf.reshape(vectors, [-1, len(block.features) * block.dim]))
            else:  # several dims: split so the output keeps the spec order
                per_feature.update(zip([f.name for f in block.features], tf.unstack(vectors, axis=1)))
        if per_feature:
            columns = [per_feature[f.name] for f in self.spec.categorical]
        if self.spec.numeric:
            numeric = tf.stack([tf.cast(_flat(f.name, inputs[f.name]), tf.float32) for f in self.spec.numeric], axis=1)
            mean = tf.constant([f.mean for f in self.spec.numeric], dtype=tf.float32)
            inverse_std = tf.constant([1.0 / f.std for f in self.spec.numeric], dtype=tf.float32)
            columns.append(tf.cast((numeric - mean) * inverse_std, self.compute_dtype))
        return columns[0] if len(columns) == 1 else tf.concat(columns, axis=1)

    def _add_l2(self, vectors: tf.Tensor) -> None:
        # On the rows the batch looked up, averaged over the batch: the gradient stays sparse (a
        # whole-table penalty updates every row every step), and a row is shrunk in proportion to
        # how often it is seen, like its data term, so rare ids cannot memorise their few labels.
        squares = tf.reduce_sum(tf.square(tf.cast(vectors, tf.float32)), axis=[1, 2])
        self.add_loss(self.embeddings_l2 * tf.reduce_mean(squares))

    def _row_ids(self, feature, values: tf.Tensor) -> tf.Tensor:
        values = _flat(feature.name, values)
        if feature.hash_buckets is not None:
            if values.dtype.is_floating or values.dtype == tf.bool:
                raise ValueError(
                    f"SharedEmbedding: hashed feature {feature.name!r} must hold integer or string ids, "
                    f"received {values.dtype.name}. Fix: cast the ids to int64 before the model."
                )
            if values.dtype != tf.string:
                values = tf.strings.as_string(values)
            return tf.strings.to_hash_bucket_fast(values, feature.hash_buckets)
        if not values.dtype.is_integer and feature.vocabulary is not None:
            raise ValueError(
                f"SharedEmbedding: feature {feature.name!r} takes the ids of its vocabulary, received "
                f"{values.dtype.name} values. Fix: map raw values with mtl_keras.vocabulary.lookup (data.to_arrays "
                "and the exported signatures do)."
            )
        if not values.dtype.is_integer:
            raise ValueError(
                f"SharedEmbedding: feature {feature.name!r} has a vocabulary and needs integer ids, received "
                f"{values.dtype.name}. Fix: map values to ids in [0, {feature.vocabulary_size}) (e.g. with the "
                "Transform vocabulary) or set hash_buckets for it in the FeatureSpec."
            )
        return tf.cast(values, tf.int64)

    def _check_range(self, features, ids: tf.Tensor) -> tf.Tensor:
        vocabulary = [i for i, f in enumerate(features) if f.vocabulary_size is not None]
        if not vocabulary:
            return ids  # hash buckets are in range by construction
        sizes = np.array([f.num_rows for f in features], dtype=np.int64)
        bad = tf.reduce_any(tf.logical_or(ids < 0, ids >= sizes), axis=0)  # [F]
        names = tf.constant([f.name for f in features])
        # Only string/int32 data: Assert then needs no tf.cond guard around it.
        check = tf.debugging.Assert(
            tf.logical_not(tf.reduce_any(bad)),
            ["SharedEmbedding: ids outside [0, vocabulary_size) in features", tf.boolean_mask(names, bad),
             "with vocabulary sizes", tf.boolean_mask(sizes.astype(np.int32), bad),
             "Fix: map unseen values to an OOV id inside the vocabulary, or give these features "
             "hash_buckets instead of vocabulary_size in the FeatureSpec."],
            summarize=len(features))
        with tf.control_dependencies([check]):
            return tf.identity(ids)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(feature_spec=self.feature_spec, embeddings_l2=self.embeddings_l2,
                      embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer))
        return config


class _Block(NamedTuple):
    """The tables of one embedding_dim, stacked as row blocks of one variable."""

    dim: int
    rows: int
    features: Tuple[CategoricalFeature, ...]  # spec order
    starts: Tuple[int, ...]  # each feature's table's first row


def _row_blocks(spec: FeatureSpec) -> Tuple[_Block, ...]:
    blocks = []
    for dim in dict.fromkeys(f.embedding_dim for f in spec.categorical):
        features = tuple(f for f in spec.categorical if f.embedding_dim == dim)
        table_start: Dict[str, int] = {}
        rows = 0
        for feature in features:
            if feature.table_name not in table_start:
                table_start[feature.table_name] = rows
                rows += feature.num_rows
        blocks.append(_Block(dim, rows, features, tuple(table_start[f.table_name] for f in features)))
    return tuple(blocks)


def _flat(name: str, values) -> tf.Tensor:
    """[batch] or [batch, 1] -> [batch]."""
    values = tf.convert_to_tensor(values)
    if values.shape.rank == 1:
        return values
    if values.shape.rank == 2 and values.shape[1] in (1, None):
        return tf.squeeze(values, axis=1)
    raise ValueError(
        f"SharedEmbedding: feature {name!r} must have shape [batch] or [batch, 1], received {values.shape}. "
        "Fix: feed one value per example."
    )
