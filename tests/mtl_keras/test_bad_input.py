import numpy as np
import pytest

from mtl_keras import names, training
from mtl_keras.config import ModelConfig
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.synthetic import make_impressions


@pytest.fixture(scope="module")
def frame_and_spec():
    return make_impressions(500, vocabulary_sizes=[10, 5], num_dense=1, ctr=0.2, cvr=0.3, seed=1)


def test_config_naming_a_feature_not_in_the_data(frame_and_spec):
    frame, spec = frame_and_spec
    config = ModelConfig(features=FeatureSpec(categorical=[*spec.categorical, CategoricalFeature("c9", 4)],
                                              numeric=spec.numeric))
    with pytest.raises(ValueError, match=r"c9.*not in the data"):
        training.prepare(frame, config)


def test_missing_label_column(frame_and_spec):
    frame, spec = frame_and_spec
    with pytest.raises(ValueError, match="Label column 'conversion' is missing"):
        training.prepare(frame.drop(columns=[names.CONVERSION]), ModelConfig(features=spec))


def test_id_outside_the_vocabulary_without_hashing(frame_and_spec):
    frame, spec = frame_and_spec
    bad = frame.copy()
    bad.loc[3, "c1"] = 7
    with pytest.raises(ValueError, match=r"'c1' has ids in \[0, 7\].*vocabulary_size to at least 8"):
        training.prepare(bad, ModelConfig(features=spec))


def test_hashed_feature_accepts_any_id(frame_and_spec):
    frame, spec = frame_and_spec
    hashed = FeatureSpec(categorical=[CategoricalFeature("c0", hash_buckets=16), spec.categorical[1]],
                         numeric=spec.numeric)
    bad = frame.copy()
    bad.loc[0, "c0"] = 10 ** 12
    arrays = training.prepare(bad, ModelConfig(features=hashed))
    assert arrays["c0"][0] == 10 ** 12


def test_nan_in_a_numeric_feature(frame_and_spec):
    frame, spec = frame_and_spec
    bad = frame.copy()
    bad.loc[[1, 2], "d0"] = np.nan
    with pytest.raises(ValueError, match="Numeric feature 'd0' has 2 NaN"):
        training.prepare(bad, ModelConfig(features=spec))


def test_labels_that_are_not_binary_or_conversions_without_click(frame_and_spec):
    frame, spec = frame_and_spec
    bad = frame.copy()
    bad.loc[0, names.CLICK] = 2
    with pytest.raises(ValueError, match="'click' must hold only 0 and 1"):
        training.prepare(bad, ModelConfig(features=spec))
    bad = frame.copy()
    row = bad.index[bad[names.CLICK] == 0][0]
    bad.loc[row, names.CONVERSION] = 1
    with pytest.raises(ValueError, match="conversion=1 but click=0"):
        training.prepare(bad, ModelConfig(features=spec))


@pytest.mark.parametrize("override, field", [
    ({"backbone": {"name": "mmoe", "num_experts": 0}}, "num_experts"),
    ({"backbone": "moe"}, "backbone"),
    ({"objective": "esmm2"}, "objective"),
    ({"backbone": {"name": "ple", "expert_units": []}}, "expert_units"),
    ({"backbone": {"name": "mmoe", "num_levels": 2}}, r"backbone 'mmoe' does not use the setting 'num_levels'.*'ple'"),
    ({"backbone": {"num_experts": 2}}, "backbone must be a name"),
    ({"objective": {"name": "escm2_ips", "ctr_propensity_floor": 0.0}}, "ctr_propensity_floor"),
    ({"tower_units": [16, -1]}, "tower_units"),
    ({"dropout": 1.0}, "dropout"),
    ({"weighting": "gradnorm"}, "weighting"),
    ({"task_weights": {"ctcvr": 1.0}}, "task_weights"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"steps_per_execution": 0}, "steps_per_execution"),
])
def test_invalid_model_config_arguments(frame_and_spec, override, field):
    _, spec = frame_and_spec
    objective = {"objective": "naive"} if field == "task_weights" else {}
    with pytest.raises(ValueError, match=field):
        ModelConfig(features=spec, **{**objective, **override})


def test_feature_spec_errors_and_json_round_trip():
    spec = FeatureSpec(categorical=[CategoricalFeature("a", vocabulary_size=5, shared_table="t"),
                                    CategoricalFeature("b", vocabulary_size=5, shared_table="t")],
                       numeric=[NumericFeature("x", mean=1.0, std=2.0)])
    assert FeatureSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="exactly one of vocabulary_size or hash_buckets"):
        CategoricalFeature("a")
    with pytest.raises(ValueError, match="share table"):
        FeatureSpec(categorical=[CategoricalFeature("a", 5, shared_table="t"), CategoricalFeature("b", 6, shared_table="t")])
    with pytest.raises(ValueError, match="appears twice"):
        FeatureSpec(numeric=[NumericFeature("x"), NumericFeature("x")])
    with pytest.raises(ValueError, match="label/funnel column"):
        NumericFeature(names.CLICK)
    with pytest.raises(ValueError, match="unknown keys"):
        FeatureSpec.from_dict({"categorical": [{"name": "a", "vocab": 3}]})


def test_model_config_json_round_trip(frame_and_spec):
    _, spec = frame_and_spec
    config = ModelConfig(features=spec, backbone="ple", objective="escm2_ips", task_weights={"cvr": 0.5})
    again = ModelConfig.from_json(config.to_json())
    assert again == config and again.task_weights["cvr"] == 0.5
    with pytest.raises(ValueError, match="unknown keys"):
        ModelConfig.from_dict({**config.to_dict(), "num_expert": 3})
