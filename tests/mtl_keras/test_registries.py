"""The backbone and objective tables: each entry builds itself, and every reader takes its names from them."""
import argparse
import dataclasses

import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.backbones import BACKBONES, GATED_BACKBONES, MMoEConfig, PLEConfig
from mtl_keras.config import ModelConfig
from mtl_keras.features import CategoricalFeature, FeatureSpec
from mtl_keras.objectives import OBJECTIVES, ESCM2DRConfig

SPEC = FeatureSpec(categorical=[CategoricalFeature("a", vocabulary_size=5)])


@pytest.mark.parametrize("name", list(BACKBONES))
def test_each_backbone_builds_its_layer_with_one_output_per_tower(name):
    section = BACKBONES[name]()
    layer = section.build(num_tasks=3)
    assert layer.name == name
    outputs = layer(tf.ones([4, 6]))
    assert len(outputs) == 3 and all(o.shape[0] == 4 for o in outputs)
    assert section.has_gates == (name in GATED_BACKBONES)
    if not section.has_gates:
        with pytest.raises(ValueError, match=f"a {name} backbone has no gates"):
            section.final_gates(None)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_each_backbone_section_round_trips_and_sizes_to_a_budget(name):
    section = BACKBONES[name].sized(num_experts=4, units=[8, 4])
    config = ModelConfig(features=SPEC, backbone=section.to_dict())
    assert config.backbone == section and config.backbone.name == name
    assert ModelConfig.from_json(config.to_json()).backbone == section


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_each_objective_declares_its_towers_tasks_and_weights(name):
    section = OBJECTIVES[name]()
    tasks = section.build_tasks(num_calibration_bins=5)
    assert list(tasks) == list(section.default_task_weights)
    assert set(section.towers) & {names.CTR, names.CVR} <= set(tasks)
    assert section.towers[:2] in ((names.CTR, names.CVR), (names.CTR,), (names.CVR,))
    assert set(section.labels) <= set(names.LABEL_COLUMNS)
    config = ModelConfig(features=SPEC, objective=name)
    assert config.task_weights == section.default_task_weights
    assert config.tower_names == list(section.towers)
    assert ModelConfig.from_json(config.to_json()).objective == section


def test_dr_adds_the_imputation_tower_and_click_column_is_read_from_the_data():
    config = ModelConfig(features=SPEC, objective=ESCM2DRConfig(click_propensity_column="known_p_ctr",
                                                                imputation_weight=0.5))
    assert config.tower_names == [names.CTR, names.CVR, names.IMPUTATION]
    assert config.data_columns == [names.CLICK, names.CONVERSION, "known_p_ctr"]
    cvr_task = config.objective.build_tasks(num_calibration_bins=5)[names.CVR]
    assert (cvr_task.imputation_weight, cvr_task.click_propensity_column) == (0.5, "known_p_ctr")
    assert ModelConfig(features=SPEC, win_weighting=True).data_columns == [names.CLICK, names.CONVERSION, names.P_WIN]


def test_a_setting_of_another_entry_is_an_error_naming_the_entry():
    with pytest.raises(ValueError, match=r"backbone 'shared_bottom' does not use the setting 'num_experts'.*'mmoe'"):
        ModelConfig(features=SPEC, backbone={"name": "shared_bottom", "num_experts": 4})
    with pytest.raises(ValueError, match=r"objective 'naive' does not use the setting 'imputation_weight'.*escm2_dr"):
        ModelConfig(features=SPEC, objective={"name": "naive", "imputation_weight": 1.0})
    with pytest.raises(ValueError, match="must be one of"):
        ModelConfig(features=SPEC, backbone="dcn")
    with pytest.raises(ValueError, match="PLEConfig is not a objective"):
        ModelConfig(features=SPEC, objective=PLEConfig())


def test_flat_settings_from_an_old_json_name_their_section():
    flat = {**ModelConfig(features=SPEC).to_dict(), "backbone": "mmoe", "num_experts": 8}
    with pytest.raises(ValueError, match=r"'num_experts' is a setting of the backbone section.*\"name\": 'mmoe'"):
        ModelConfig.from_dict(flat)
    flat = {**ModelConfig(features=SPEC).to_dict(), "ctr_weight_clip": 50.0}
    with pytest.raises(ValueError, match="'ctr_weight_clip' is a setting of the objective section"):
        ModelConfig.from_dict(flat)


def test_sections_are_typed_and_validated():
    assert ModelConfig(features=SPEC, backbone=MMoEConfig(num_experts=3)).backbone.num_experts == 3
    with pytest.raises(ValueError, match="MMoEConfig.num_experts must be an int >= 1"):
        MMoEConfig(num_experts=0)
    with pytest.raises(ValueError, match="PLEConfig.num_shared_experts must be an int >= 0"):
        PLEConfig(num_shared_experts=-1)
    assert PLEConfig(num_shared_experts=0).num_shared_experts == 0
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert not fields & {"num_experts", "expert_units", "bottom_units", "num_levels", "ctr_propensity_floor"}


def _choices(register, command, option):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if option in action.option_strings:
            return tuple(action.choices)
    for action in sub._actions:  # nested subcommands (benchmark bias)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                for a in child._actions:
                    if option in a.option_strings:
                        return tuple(a.choices)
    raise AssertionError(f"{option} not found")


def test_cli_choices_come_from_the_tables():
    from benchmarks.bias.cli import register as register_benchmark
    from mtl_keras.cli.train import register as register_train

    assert _choices(register_train, "train", "--backbone") == tuple(BACKBONES)
    assert _choices(register_train, "train", "--objective") == tuple(OBJECTIVES)
    assert _choices(register_benchmark, "benchmark", "--backbone") == tuple(BACKBONES)
