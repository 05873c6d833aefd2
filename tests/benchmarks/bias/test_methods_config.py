"""Methods and the benchmark config: what each method changes, and bad input."""
import pytest

from mtl_keras import names
from benchmarks.bias.config import BiasBenchmarkConfig
from benchmarks.bias.methods import METHOD_NAMES, METHODS, BiasMethod, methods_by_name
from benchmarks.bias import methods as bias_methods
from mtl_keras.objectives import OBJECTIVES


def test_methods_cover_the_issue_and_differ_only_in_objective_and_p_win():
    by_name = {m.name: m for m in METHODS}
    assert by_name["naive"].model_overrides() == {"objective": {"name": "naive"}, "win_weighting": False,
                                                  "p_win_column": names.P_WIN}
    assert by_name["ipw_escm2_dr"].model_overrides() == {"objective": {"name": "escm2_dr"}, "win_weighting": True,
                                                         "p_win_column": names.P_WIN}
    assert by_name["oracle_ipw_escm2_ips"].p_win_column == names.TRUE_P_WIN
    # Every funnel objective (both towers); the single-task ctr / cvr ones cannot score CTCVR.
    assert {m.objective for m in METHODS} == {n for n, s in OBJECTIVES.items() if {"ctr", "cvr"} <= set(s.towers)}
    assert {m.p_win_source for m in METHODS} == set(bias_methods.P_WIN_SOURCES)


def test_config_shares_one_budget_and_sizes_ple_like_mmoe():
    mmoe = BiasBenchmarkConfig(backbone="mmoe", num_experts=4)
    ple = BiasBenchmarkConfig(backbone="ple", num_experts=4)
    assert mmoe.model_fields()["backbone"] == {"name": "mmoe", "num_experts": 4, "expert_units": [64, 32]}
    ple_section = ple.model_fields()["backbone"]
    assert (ple_section["num_levels"], ple_section["num_shared_experts"], ple_section["num_task_experts"]) == (1, 2, 2)
    # Every backbone of the table runs in the benchmark at the same budget.
    bottom = BiasBenchmarkConfig(backbone="shared_bottom", expert_units=[64, 32]).model_fields()["backbone"]
    assert bottom == {"name": "shared_bottom", "bottom_units": [64, 32]}
    assert mmoe.methods == METHOD_NAMES
    assert BiasBenchmarkConfig(requests=5000, test_requests=0).test_requests == 5000
    assert BiasBenchmarkConfig(seeds=3, first_seed=4).seed_list == [4, 5, 6]


@pytest.mark.parametrize("kwargs, field", [
    ({"backbone": "dcn"}, "backbone"),
    ({"requests": 10}, "requests"),
    ({"seeds": 0}, "seeds"),
    ({"win_model": "km"}, "win_model"),
    ({"methods": ("naive", "magic")}, "methods"),
    ({"methods": ("naive", "naive")}, "methods"),
    ({"learning_rate": 0.0}, "learning_rate"),
])
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        BiasBenchmarkConfig(**kwargs)


def test_bad_method():
    with pytest.raises(ValueError, match="objective"):
        BiasMethod("x", "dcn")
    with pytest.raises(ValueError, match="p_win_source"):
        BiasMethod("x", "esmm", "guess")
    with pytest.raises(ValueError, match="unknown"):
        methods_by_name(["esmm", "esmm2"])


def test_worlds_and_seeds_draw_separately():
    from benchmarks.bias.runner import BiasBenchmark

    config = BiasBenchmarkConfig(scenario="confounded", requests=2000, test_requests=1000, worlds=2, world_seed=3)
    assert config.world_list == [3, 4] and config.seed_list == [0, 1, 2, 3, 4]
    bench = BiasBenchmark(config, log=None)
    train_a, test_a, spec = bench.data(world=3, seed=0)
    train_b, _, _ = bench.data(world=3, seed=1)
    train_c, _, _ = bench.data(world=4, seed=0)
    assert len(train_a) == 2000 and len(test_a) == 1000
    assert bench.simulation_config(0, 3).intent_strength == 1.0  # the scenario's preset
    assert not train_a["user_id"].equals(train_b["user_id"])  # a new sample on the same world
    assert not train_a[names.TRUE_P_CVR].equals(train_c[names.TRUE_P_CVR])  # a new world
    with pytest.raises(ValueError, match="scenario"):
        BiasBenchmarkConfig(scenario="unknown")
    with pytest.raises(ValueError, match="worlds"):
        BiasBenchmarkConfig(worlds=0)
