"""preprocessing_fn on golden rows, checked with tf.Transform's own test case (tft_unit)."""
import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata.dataset_metadata import DatasetMetadata

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from transform.config import TransformConfig
from transform.preprocessing import make_preprocessing_fn, preprocessing_fn, vocabulary_filename

SPEC = FeatureSpec(
    categorical=[CategoricalFeature("ad", vocabulary_size=100), CategoricalFeature("site", hash_buckets=50)],
    numeric=[NumericFeature("price")],
)
RAW = DatasetMetadata.from_feature_spec(
    {
        "ad": tf.io.FixedLenFeature([], tf.int64),
        "site": tf.io.FixedLenFeature([], tf.int64),
        "price": tf.io.FixedLenFeature([], tf.float32),
        names.CLICK: tf.io.FixedLenFeature([], tf.int64),
        names.WON: tf.io.FixedLenFeature([], tf.int64),
        names.P_WIN: tf.io.FixedLenFeature([], tf.float32),
        names.MARKET_PRICE: tf.io.VarLenFeature(tf.float32),
        names.TRUE_P_CTR: tf.io.FixedLenFeature([], tf.float32),
    }
)
ADS = [5, 5, 7, 9]
PRICES = [1.0, 2.0, 3.0, 6.0]
ROWS = [
    {"ad": a, "site": 1000 + i, "price": p, names.CLICK: i % 2, names.WON: 1 if i < 3 else 0,
     names.P_WIN: 0.25 * (i + 1), names.MARKET_PRICE: [0.5 * i] if i < 3 else [], names.TRUE_P_CTR: 0.1}
    for i, (a, p) in enumerate(zip(ADS, PRICES))
]
STD = math.sqrt(np.var(PRICES))  # population std, as tft.scale_to_z_score uses


def _expected(ad_ids, price_out):
    return [
        {"ad": ad, "site": row["site"], "price": price, names.CLICK: row[names.CLICK], names.WON: row[names.WON],
         names.P_WIN: row[names.P_WIN], names.MARKET_PRICE: row[names.MARKET_PRICE]}
        for ad, price, row in zip(ad_ids, price_out, ROWS)
    ]


class PreprocessingTest(tft_unit.TransformTestCase):
    test_session = None  # tf.test.TestCase's deprecated helper, which pytest would collect and skip

    def test_vocabulary_zscore_and_pass_through(self):
        # Vocabulary by descending count, ties by descending id: 5 (twice) -> 0, 9 -> 1, 7 -> 2.
        # Ground truth (true_p_ctr) is dropped; labels, won, p_win and market_price are untouched.
        z = [(p - 3.0) / STD for p in PRICES]
        self.assertAnalyzeAndTransformResults(
            ROWS, RAW, make_preprocessing_fn(SPEC), _expected([0, 0, 2, 1], z),
            expected_vocab_file_contents={vocabulary_filename("ad"): [b"5", b"9", b"7"]},
        )

    def test_top_k_sends_the_rest_to_the_oov_bucket_and_log_scaling(self):
        config = TransformConfig(top_k=1, numeric_transform="log")
        logs = np.log1p(PRICES)
        z = (logs - logs.mean()) / logs.std()
        self.assertAnalyzeAndTransformResults(
            ROWS, RAW, make_preprocessing_fn(SPEC, config), _expected([0, 0, 1, 1], z.tolist())
        )

    def test_frequency_threshold_through_the_tfx_entry_point(self):
        custom_config = {
            "feature_spec": SPEC.to_dict(),
            "transform": TransformConfig(frequency_threshold=2).to_dict(),
        }
        z = [(p - 3.0) / STD for p in PRICES]
        # Only 5 is seen twice; 7 and 9 fall in the OOV bucket, id 1.
        self.assertAnalyzeAndTransformResults(
            ROWS, RAW, lambda inputs: preprocessing_fn(inputs, custom_config), _expected([0, 0, 1, 1], z),
            expected_vocab_file_contents={vocabulary_filename("ad"): [b"5"]},
        )

    def test_bucketize_and_shared_vocabulary(self):
        spec = FeatureSpec(
            categorical=[
                CategoricalFeature("user_a", vocabulary_size=10, shared_table="user"),
                CategoricalFeature("user_b", vocabulary_size=10, shared_table="user"),
            ],
            numeric=[NumericFeature("price")],
        )
        metadata = DatasetMetadata.from_feature_spec({
            "user_a": tf.io.FixedLenFeature([], tf.int64),
            "user_b": tf.io.FixedLenFeature([], tf.int64),
            "price": tf.io.FixedLenFeature([], tf.float32),
        })
        # user 3 appears three times across both columns, 4 twice, 8 once: one vocabulary 3, 4, 8.
        rows = [
            {"user_a": 3, "user_b": 4, "price": 1.0},
            {"user_a": 3, "user_b": 8, "price": 1.0},
            {"user_a": 4, "user_b": 3, "price": 10.0},
            {"user_a": 3, "user_b": 4, "price": 10.0},
        ]
        expected = [
            {"user_a": 0, "user_b": 1, "price": 0},
            {"user_a": 0, "user_b": 2, "price": 0},
            {"user_a": 1, "user_b": 0, "price": 1},
            {"user_a": 0, "user_b": 1, "price": 1},
        ]
        config = TransformConfig(numeric_transform="bucketize", num_buckets=2)
        self.assertAnalyzeAndTransformResults(
            rows, metadata, make_preprocessing_fn(spec, config), expected,
            expected_vocab_file_contents={vocabulary_filename("user"): [b"3", b"4", b"8"]},
        )

    def test_missing_numeric_values_get_the_mean(self):
        spec = FeatureSpec(numeric=[NumericFeature("price")])
        metadata = DatasetMetadata.from_feature_spec({"price": tf.io.VarLenFeature(tf.float32)})
        rows = [{"price": [1.0]}, {"price": []}, {"price": [3.0]}, {"price": [2.0]}]
        # Imputed mean 2 -> values 1, 2, 3, 2: mean 2, population std sqrt(0.5).
        z = [(v - 2.0) / math.sqrt(0.5) for v in (1.0, 2.0, 3.0, 2.0)]
        self.assertAnalyzeAndTransformResults(
            rows, metadata, make_preprocessing_fn(spec), [{"price": v} for v in z]
        )


def test_missing_feature_column_is_named():
    fn = make_preprocessing_fn(SPEC)
    with pytest.raises(ValueError, match="'price'"):
        fn({"ad": tf.constant([1], tf.int64), "site": tf.constant([1], tf.int64)})


def test_string_feature_is_rejected_with_its_name():
    fn = make_preprocessing_fn(FeatureSpec(categorical=[CategoricalFeature("ad", vocabulary_size=3)]))
    with pytest.raises(ValueError, match="'ad' has dtype string"):
        fn({"ad": tf.constant(["x"])})


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="numeric_transform"):
        TransformConfig(numeric_transform="sqrt")
    with pytest.raises(ValueError, match="num_oov_buckets"):
        TransformConfig(num_oov_buckets=0)
    with pytest.raises(ValueError, match="not numeric features"):
        make_preprocessing_fn(SPEC, TransformConfig(numeric_overrides={"ad": "log"}))
    with pytest.raises(ValueError, match="feature_spec"):
        preprocessing_fn({}, {})
