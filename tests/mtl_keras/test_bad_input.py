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
    ({"win_propensity_floor": 0.0}, r"win_propensity_floor must be in \(0, 1\), got 0.0"),
    ({"win_propensity_floor": 1.0}, r"win_propensity_floor must be in \(0, 1\), got 1.0"),
    ({"win_propensity_floor": float("nan")}, "win_propensity_floor"),
    ({"win_weight_clip": 0.5}, "win_weight_clip must be >= 1, got 0.5"),
    ({"win_weighting": True, "win_weight_clip": -1.0}, "win_weight_clip"),
    ({"learning_rate_schedule": {"name": "step", "every_steps": 0}}, "every_steps"),
    ({"early_stopping_metric": "ctr_accuracy"}, "early_stopping_metric"),
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


def test_win_weight_bounds_fail_at_config_time_not_at_build_time(frame_and_spec):
    _, spec = frame_and_spec
    with pytest.raises(ValueError, match="ModelConfig.win_propensity_floor"):
        ModelConfig.from_json(ModelConfig(features=spec).to_json().replace('"win_propensity_floor": 0.05',
                                                                           '"win_propensity_floor": 0.0'))
    config = ModelConfig(features=spec, win_weighting=True, win_propensity_floor=0.01, win_weight_clip=1.0)
    assert config.win_propensity_floor == 0.01 and config.win_weight_clip == 1.0


@pytest.fixture(scope="module")
def untrained(frame_and_spec):
    from mtl_keras.models import build_model

    frame, spec = frame_and_spec
    frame = frame.copy()
    frame["w"] = 1.0
    frame["pick"] = np.arange(len(frame)) % 2 == 0
    return build_model(ModelConfig(features=spec, tower_units=[4])), frame


@pytest.mark.parametrize("change, kwargs, message", [
    (lambda f: f.assign(w=-f["w"]), {"weights": "w"}, "weights column 'w' must hold non-negative finite weights"),
    (lambda f: f.assign(w=np.where(np.arange(len(f)) == 3, np.nan, 1.0)), {"weights": "w"},
     "weights column 'w' .* 1 of the 500 rows of space 'impression' are negative, NaN or infinite"),
    (lambda f: f.assign(w=np.inf), {"weights": "w"}, "weights column 'w'"),
    (lambda f: f.assign(w=0.0), {"weights": "w"}, "weights column 'w' sums to 0"),
    (lambda f: f.assign(w="a"), {"weights": "w"}, "weights column 'w' must be numeric"),
    (lambda f: f, {"weights": "missing"}, "weights must be None or the name of a column.*'missing'"),
    (lambda f: f.assign(pick=f["pick"].astype(int)), {"space": "pick"},
     "space column 'pick' must be boolean .* got dtype int64"),
    (lambda f: f.assign(pick=f["pick"].astype(object).where(f.index > 0, None)), {"space": "pick"},
     "space column 'pick' must be boolean"),
    (lambda f: f, {"space": "clicks"}, r"space must be one of \['impression', 'all'\] or the name of a boolean "
                                       "column.*'clicks', which is not a column"),
    (lambda f: f, {"space": 10}, "space must be one of"),
    (lambda f: f.assign(pick=False), {"space": "pick"}, "space 'pick' selects no rows"),
    (lambda f: f.assign(click=np.where(f.index == 0, np.nan, f["click"])), {"space": "all"},
     "Label column 'click' must hold only 0 and 1 on the 500 rows of space 'all'"),
])
def test_evaluate_rejects_bad_weights_and_spaces_naming_the_column(untrained, change, kwargs, message):
    model, frame = untrained
    with pytest.raises(ValueError, match=message):
        training.evaluate(model, change(frame.copy()), **kwargs)
