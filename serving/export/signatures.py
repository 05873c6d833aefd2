"""ServingModule: the tf.Module that is exported, with one tf.function per serving signature."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf

from mtl_keras import names, vocabulary
from mtl_keras.features import FeatureSpec
from serving import names as serving_names

# Never parsed at serving time: labels, funnel outcomes and simulator ground truth.
NON_FEATURE_COLUMNS = frozenset(names.FUNNEL_COLUMNS) | frozenset(names.GROUND_TRUTH_COLUMNS)


def model_input_dtypes(feature_spec: FeatureSpec) -> Dict[str, tf.DType]:
    """The dtype the model expects for each feature: int64 ids, float32 numeric values."""
    dtypes = {f.name: tf.int64 for f in feature_spec.categorical}
    dtypes.update({f.name: tf.float32 for f in feature_spec.numeric})
    return dtypes


def raw_input_dtypes(feature_spec: FeatureSpec) -> Dict[str, tf.DType]:
    """The raw serving dtypes without a transform: as the model's, except for features with a
    vocabulary, which take their raw values (tf.string or tf.int64) and are looked up in it."""
    dtypes = model_input_dtypes(feature_spec)
    dtypes.update({f.name: vocabulary.raw_dtype(f) for f in feature_spec.categorical if f.learns_vocabulary})
    return dtypes


def raw_feature_spec(feature_spec: Optional[FeatureSpec], tft_output: Any = None) -> Dict[str, Any]:
    """The tf.Example parse spec of the raw serving inputs (labels dropped).

    Without a transform the raw features are the model's features. With a `tft.TFTransformOutput`
    they are its raw feature spec minus label, funnel and ground-truth columns: scalar
    FixedLenFeatures (shape [] or [1]) or VarLenFeatures (values the schema allows to be missing,
    which the transform imputes).
    """
    if tft_output is None:
        return {name: tf.io.FixedLenFeature([], dtype) for name, dtype in raw_input_dtypes(feature_spec).items()}
    spec = {}
    for name, feature in tft_output.raw_feature_spec().items():
        if name in NON_FEATURE_COLUMNS:
            continue
        scalar = isinstance(feature, tf.io.FixedLenFeature) and list(feature.shape) in ([], [1])
        if not (scalar or isinstance(feature, tf.io.VarLenFeature)):
            raise ValueError(
                f"Raw feature {name!r} of the transform has parse spec {feature!r}; serving supports one value "
                "per example. Fix: give it a fixed shape of [] or [1] (or none, VarLen) in the schema."
            )
        spec[name] = feature
    if not spec:
        raise ValueError("The transform's raw feature spec has no feature columns left after dropping labels.")
    return spec


def _flat_values(x) -> tf.Tensor:
    """A raw feature as [batch]: parsed VarLen (one value per row) or [batch, 1] inputs flattened."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x)
    return tf.reshape(x, [-1])


class ServingModule(tf.Module):
    """Wraps a dict-in/dict-out Keras model (plus an optional TFT layer and win model) for export.

    `signatures()` returns the concrete functions that become the SavedModel's signatures. With a
    `calibration` (`mtl_keras.calibration.MultiTaskCalibration`) every signature serves the
    calibrated `p_ctr`, `p_cvr`, `p_ctcvr` and the raw ones as `p_ctr_uncalibrated`, ….
    """

    def __init__(
        self,
        model: tf.keras.Model,
        feature_spec: FeatureSpec,
        tft_output: Any = None,
        win_model: Optional[tf.Module] = None,
        calibration: Any = None,
    ):
        super().__init__(name="mtl_serving")
        if not isinstance(feature_spec, FeatureSpec):
            raise ValueError(f"feature_spec must be a FeatureSpec, got {type(feature_spec).__name__}.")
        if win_model is not None and not callable(win_model):
            raise ValueError("win_model must be a callable tf.Module: __call__(features, bids) -> [batch, num_bids].")
        self.model = model
        self.calibration = calibration
        if calibration is not None:
            missing = sorted({f for f in calibration.slice_fields.values() if f not in feature_spec.names})
            if missing:
                raise ValueError(f"The calibration is sliced by {missing}, which are not raw features of the model "
                                 f"({feature_spec.names}); fit slice calibrators on a model feature.")
        # Attached as an attribute so that the transform's assets (vocabularies) are saved with it.
        self.tft_layer = tft_output.transform_features_layer() if tft_output is not None else None
        self.win_model = win_model
        self._feature_spec = feature_spec
        learned = [f for f in feature_spec.categorical if f.learns_vocabulary]
        if learned and tft_output is not None:
            raise ValueError(
                f"Features {[f.name for f in learned]} have a vocabulary in the FeatureSpec, but with a tf.Transform "
                "output the transform maps raw values to ids. Fix: use one of the two for these features."
            )
        # Tracked by the module, so the tables (and their keys) are saved in the SavedModel.
        self.vocabulary_tables = {f.name: vocabulary.make_table(f) for f in learned}
        self._raw_spec = raw_feature_spec(feature_spec, tft_output)
        if serving_names.SERVING_INPUT_BIDS in self._raw_spec and win_model is not None:
            raise ValueError(f"A raw feature is named {serving_names.SERVING_INPUT_BIDS!r}, which the win signature needs.")

    @property
    def raw_spec(self) -> Dict[str, tf.io.FixedLenFeature]:
        return dict(self._raw_spec)

    def _model_features(self, raw: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        features = dict(raw)
        if self.tft_layer is not None:
            features = self.tft_layer(features)
        dtypes = model_input_dtypes(self._feature_spec)
        # The model takes [batch] tensors; parsed or transformed [batch, 1] columns are flattened.
        features = {n: tf.reshape(features[n], [-1]) for n in self._feature_spec.names}
        for feature in self._feature_spec.categorical:
            if feature.name in self.vocabulary_tables:
                features[feature.name] = vocabulary.lookup(
                    feature, features[feature.name], self.vocabulary_tables[feature.name])
        return {n: tf.cast(x, dtypes[n]) for n, x in features.items()}

    def _predict(self, raw: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        # The prediction keys the model has: all three for a two-tower model, only p_ctr or p_cvr for a
        # single-task one (objective ctr / cvr). Auxiliary outputs (p_imp) are not served.
        outputs = self.model(self._model_features(raw), training=False)
        keys = [k for k in names.PREDICTION_KEYS if k in outputs]
        if not keys:
            raise ValueError(f"The model's output dict has none of {list(names.PREDICTION_KEYS)}; "
                             f"it has {sorted(outputs)}.")
        outputs = {k: tf.reshape(tf.cast(outputs[k], tf.float32), [-1]) for k in keys}
        if self.calibration is None:
            return outputs
        # Calibrated p_ctr / p_cvr / p_ctcvr plus the raw `<output>_uncalibrated` ones; slice
        # calibrators read their field's raw value.
        slices = {f: _flat_values(raw[f]) for f in set(self.calibration.slice_fields.values())}
        calibrated = self.calibration.tf_apply(outputs, features=slices)
        return {k: tf.reshape(tf.cast(v, tf.float32), [-1]) for k, v in calibrated.items()}

    def _shaped(self, raw: Mapping[str, tf.Tensor]) -> Dict[str, Any]:
        # Raw [batch] inputs in the form parsing would give: [batch], [batch, 1] or a SparseTensor
        # with one value per row (VarLen).
        shaped = {}
        for name, feature in self._raw_spec.items():
            x = raw[name]
            if isinstance(feature, tf.io.VarLenFeature):
                rows = tf.range(tf.shape(x, out_type=tf.int64)[0])
                indices = tf.stack([rows, tf.zeros_like(rows)], axis=1)
                shaped[name] = tf.SparseTensor(indices, x, tf.stack([tf.size(rows, out_type=tf.int64), 1]))
            else:
                shaped[name] = tf.reshape(x, [-1] + list(feature.shape))
        return shaped

    def _raw_input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {n: tf.TensorSpec([None], f.dtype, name=n) for n, f in self._raw_spec.items()}

    def signatures(self) -> Dict[str, Any]:
        """Concrete functions keyed by signature name."""
        raw_spec = self._raw_spec

        @tf.function
        def serve_examples(examples):
            parsed = tf.io.parse_example(examples, raw_spec)
            return self._predict(parsed)

        @tf.function
        def predict_raw(features):
            return self._predict(self._shaped(features))

        result = {
            serving_names.SERVING_DEFAULT: serve_examples.get_concrete_function(
                tf.TensorSpec([None], tf.string, name=serving_names.SERVING_INPUT_EXAMPLES)
            ),
            serving_names.SIGNATURE_PREDICT_RAW: predict_raw.get_concrete_function(self._raw_input_specs()),
        }
        if self.win_model is not None:
            win_model = self.win_model

            @tf.function
            def win_probability(features):
                features = dict(features)
                bids = features.pop(serving_names.SERVING_INPUT_BIDS)
                p_win = win_model(features, tf.cast(bids, tf.float32))
                return {names.P_WIN: tf.cast(p_win, tf.float32)}

            specs = self._raw_input_specs()
            specs[serving_names.SERVING_INPUT_BIDS] = tf.TensorSpec([None, None], tf.float32, name=serving_names.SERVING_INPUT_BIDS)
            result[serving_names.SIGNATURE_WIN_PROBABILITY] = win_probability.get_concrete_function(specs)
        return result
