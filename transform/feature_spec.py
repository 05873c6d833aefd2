"""The FeatureSpec of the transformed features: what a model trained after Transform reads."""
from __future__ import annotations

from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from transform.config import TransformConfig
from transform.preprocessing import vocabulary_filename


def transformed_feature_spec(feature_spec: FeatureSpec, config: TransformConfig, tft_output) -> FeatureSpec:
    """Maps the raw FeatureSpec to the transformed one.

    Vocabulary features get `vocabulary_size` = computed vocabulary + OOV buckets (ids lie in that
    range after Transform); hashed features are unchanged; standardised numerics get mean 0, std 1
    (the scaling already happened); bucketized numerics become categoricals of `num_buckets` ids.
    `tft_output` is a `tft.TFTransformOutput` of a run of `preprocessing_fn` with the same arguments.
    """
    categorical = []
    for feature in feature_spec.categorical:
        if feature.hash_buckets is not None:
            categorical.append(feature)
            continue
        size = tft_output.vocabulary_size_by_name(vocabulary_filename(feature.table_name))
        categorical.append(
            CategoricalFeature(
                name=feature.name,
                vocabulary_size=int(size) + config.num_oov_buckets,
                embedding_dim=feature.embedding_dim,
                shared_table=feature.shared_table,
            )
        )
    numeric = []
    for feature in feature_spec.numeric:
        if config.numeric_transform_for(feature.name) == "bucketize":
            categorical.append(CategoricalFeature(name=feature.name, vocabulary_size=config.num_buckets))
        else:
            numeric.append(NumericFeature(name=feature.name, mean=0.0, std=1.0))
    return FeatureSpec(categorical=categorical, numeric=numeric)
