"""Learned vocabularies: learning (min_count, max_size), ids and OOV ids, JSON, validation, training on strings."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import data, names, training
from mtl_keras.config import ModelConfig
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.layers import SharedEmbedding
from mtl_keras.vocabulary import encode_column, learn_vocabularies, lookup

# site counts: a 3, b 2, c 1, d 1; slot counts: 7 2, 3 2, 5 1.
FRAME = pd.DataFrame({
    "site": ["a", "b", "a", "c", "b", "a", "d"],
    "slot": [7, 7, 3, 3, 5, 5, 5],
    "price": np.linspace(0.0, 1.0, 7),
})


def _spec(**site):
    return FeatureSpec(
        categorical=[CategoricalFeature("site", num_oov_buckets=1, embedding_dim=4, **site),
                     CategoricalFeature("slot", num_oov_buckets=1, embedding_dim=4)],
        numeric=[NumericFeature("price")],
    )


def test_learned_vocabulary_is_frequency_order_ties_by_value_with_min_count_and_max_size():
    spec = learn_vocabularies(_spec(), FRAME)
    site, slot = spec.categorical
    assert site.vocabulary == ("a", "b", "c", "d")  # c and d tie at 1: by value
    assert site.vocabulary_size == 5  # 4 values + 1 OOV id
    assert slot.vocabulary == (5, 3, 7)  # 5 three times; 3 and 7 tie at 2
    assert learn_vocabularies(_spec(max_size=3), FRAME).categorical[0].vocabulary == ("a", "b", "c")
    assert learn_vocabularies(_spec(min_count=2), FRAME).categorical[0].vocabulary == ("a", "b")
    assert learn_vocabularies(_spec(min_count=2, max_size=1), FRAME).categorical[0].vocabulary == ("a",)
    # Already learned: kept unless relearn.
    again = learn_vocabularies(spec, FRAME.iloc[:2])
    assert again == spec
    assert learn_vocabularies(spec, FRAME.iloc[:2], relearn=True).categorical[0].vocabulary == ("a", "b")


def test_shared_table_learns_one_vocabulary_from_all_its_columns():
    frame = pd.DataFrame({"user_site": ["x", "y", "y"], "ad_site": ["z", "z", "z"]})
    spec = FeatureSpec(categorical=[
        CategoricalFeature("user_site", num_oov_buckets=1, shared_table="site"),
        CategoricalFeature("ad_site", num_oov_buckets=1, shared_table="site")])
    learned = learn_vocabularies(spec, frame)
    assert [f.vocabulary for f in learned.categorical] == [("z", "y", "x")] * 2


def test_ids_and_oov_ids():
    site, slot = learn_vocabularies(_spec(), FRAME).categorical
    # OOV id 0 first, then the vocabulary in order.
    got = encode_column(site, pd.Series(["a", "d", "never", "b", ""]))
    np.testing.assert_array_equal(got, [1, 4, 0, 2, 0])
    np.testing.assert_array_equal(encode_column(slot, pd.Series([5, 3, 7, 99, -1])), [1, 2, 3, 0, 0])
    # Several OOV buckets: unseen values hash into [0, 3) with FarmHash, like hash_buckets features.
    hashed = CategoricalFeature("site", vocabulary=["a", "b"], num_oov_buckets=3)
    assert hashed.vocabulary_size == 5
    unseen = ["u1", "u2", "u3", "u4", "u5"]
    ids = lookup(hashed, tf.constant(["a", "b"] + unseen)).numpy()
    expected = tf.strings.to_hash_bucket_fast(unseen, 3).numpy()
    np.testing.assert_array_equal(ids, [3, 4] + list(expected))
    ints = CategoricalFeature("slot", vocabulary=[10], num_oov_buckets=2)
    np.testing.assert_array_equal(lookup(ints, tf.constant([10, 11], tf.int32)).numpy(),
                                  [2, tf.strings.to_hash_bucket_fast(["11"], 2).numpy()[0]])


def test_to_arrays_maps_raw_values_and_keeps_integer_id_features():
    spec = learn_vocabularies(_spec(), FRAME)
    plain = FeatureSpec(categorical=[*spec.categorical, CategoricalFeature("ids", vocabulary_size=10)],
                        numeric=spec.numeric)
    frame = FRAME.assign(ids=np.arange(7))
    data.validate_frame(frame, plain, labels=())
    arrays = data.to_arrays(frame, plain)
    np.testing.assert_array_equal(arrays["site"], [1, 2, 1, 3, 2, 1, 4])
    np.testing.assert_array_equal(arrays["slot"], [3, 3, 2, 2, 1, 1, 1])
    np.testing.assert_array_equal(arrays["ids"], np.arange(7))
    assert {k: v.dtype for k, v in arrays.items()} == {"site": np.int64, "slot": np.int64, "ids": np.int64,
                                                        "price": np.float32}


def test_json_round_trip_and_integer_features_unchanged():
    spec = learn_vocabularies(_spec(max_size=3, min_count=1), FRAME)
    text = spec.to_json()
    assert FeatureSpec.from_json(text) == spec
    assert FeatureSpec.from_json(text).categorical[1].vocabulary == (5, 3, 7)  # ints stay ints
    assert FeatureSpec.from_json(_spec().to_json()) == _spec()  # not learned yet
    # Integer-id features serialise as before (no vocabulary keys).
    assert CategoricalFeature("x", vocabulary_size=3).to_dict() == {
        "name": "x", "vocabulary_size": 3, "hash_buckets": None, "embedding_dim": 8, "shared_table": None}


def test_bad_specs_and_frames_name_the_feature_and_the_fix():
    with pytest.raises(ValueError, match="'site' has dtype object; it must hold integer ids.*learn_vocabularies"):
        data.validate_frame(FRAME, FeatureSpec(categorical=[CategoricalFeature("site", vocabulary_size=5)]), labels=())
    with pytest.raises(ValueError, match="'site' has num_oov_buckets=1 but no vocabulary yet.*learn_vocabularies"):
        data.validate_frame(FRAME, _spec(), labels=())
    with pytest.raises(ValueError, match="no vocabulary yet"):
        SharedEmbedding(_spec())
    spec = learn_vocabularies(_spec(), FRAME)
    with pytest.raises(ValueError, match="'site' holds integers but its vocabulary holds strings"):
        data.validate_frame(FRAME.assign(site=1), spec, labels=())
    with pytest.raises(ValueError, match="'site' has 1 missing values"):
        data.validate_frame(FRAME.assign(site=["a", None, "b", "c", "d", "a", "a"]), spec, labels=())
    with pytest.raises(ValueError, match="needs a vocabulary"):
        CategoricalFeature("x", vocabulary_size=3, num_oov_buckets=1)
    with pytest.raises(ValueError, match="num_oov_buckets >= 1"):
        CategoricalFeature("x", vocabulary=["a"])
    with pytest.raises(ValueError, match="only strings or only ints"):
        CategoricalFeature("x", vocabulary=["a", 1], num_oov_buckets=1)
    with pytest.raises(ValueError, match="vocabulary_size=9 but the vocabulary has 1 values"):
        CategoricalFeature("x", vocabulary=["a"], num_oov_buckets=1, vocabulary_size=9)
    with pytest.raises(ValueError, match="share table"):
        FeatureSpec(categorical=[CategoricalFeature("a", vocabulary=["x"], num_oov_buckets=1, shared_table="t"),
                                 CategoricalFeature("b", vocabulary=["y"], num_oov_buckets=1, shared_table="t")])
    with pytest.raises(ValueError, match="takes the ids of its vocabulary"):
        layer = SharedEmbedding(spec)
        layer({"site": tf.constant(["a"]), "slot": tf.constant([5], tf.int64), "price": tf.constant([0.0])})


def test_model_trains_on_string_columns_and_unseen_values_share_the_oov_prediction():
    rng = np.random.default_rng(0)
    n = 400
    sites = rng.choice(["news", "games", "shop", "rare"], size=n, p=[0.5, 0.3, 0.19, 0.01])
    click = (rng.random(n) < np.where(sites == "games", 0.6, 0.2)).astype(int)
    frame = pd.DataFrame({"site": sites, "slot": rng.integers(0, 4, n), "price": rng.normal(size=n),
                          names.CLICK: click, names.CONVERSION: click * (rng.random(n) < 0.5)})
    spec = _spec(min_count=10)  # declared only: train learns the vocabulary from its rows
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         tower_units=[8], batch_size=64, epochs=2, learning_rate=0.01)
    model, history = training.train(config, frame, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    learned = model.model_config.features.categorical[0].vocabulary
    assert learned == learn_vocabularies(spec, frame).categorical[0].vocabulary and "rare" not in learned
    probe = pd.DataFrame({"site": ["games", "news", "never-seen", "rare"], "slot": [1, 1, 1, 1],
                          "price": [0.0] * 4})
    p_ctr = training.predict(model, probe)[names.P_CTR]
    assert p_ctr[0] != p_ctr[1]
    assert p_ctr[2] == p_ctr[3]  # unseen and below-min_count values both get the OOV id
