"""benchmarks/pipeline_speed.py --trainer-only on the tiny pipeline's Transform output.

Uses the session's `tiny_runs` (tests/tfx_pipeline/conftest.py): making the runs itself would
change which run the notebook and the weighted-evaluation tests see.
"""
import json

import pytest


@pytest.fixture(scope="module")
def tiny_workdir(tiny_runs):
    workdir, _ = tiny_runs
    return workdir.base


def test_trainer_only_times_every_path_on_the_same_rows(tiny_workdir, tmp_path):
    from benchmarks import pipeline_speed

    pipeline_speed.main(["--trainer-only", "--workdir", tiny_workdir, "--out", str(tmp_path),
                         "--batch-size", "128", "--warmup-steps", "5", "--repeats", "1"])
    result = json.loads((tmp_path / "pipeline_speed.json").read_text())
    assert {"benchmark", "batch_size", "epochs", "precision", "steps_per_execution", "repeats", "runs"} <= set(result)
    (run,) = result["runs"]
    assert run["requests"] is None and run["pipeline"] is None
    won = run["won_train_rows"]
    assert won > 1000 and run["count_won_rows_s"] > 0 and run["peak_rss_mb"] > 0
    for name in pipeline_speed.PATHS:
        assert run["input"][name]["rows"] == won  # one pass of each input holds the same rows
        assert run["input"][name]["input_rows_per_sec"] > 0 and run["input"][name]["input_cpu_us_per_row"] > 0
        training = run["training"][name]
        assert training["steps"] == 2 * -(-won // 128)  # 2 epochs
        assert training["examples_per_sec"] > 0 and training["cpu_us_per_example"] > 0 and training["wall_s"] > 0
    rate = {name: run["training"][name]["examples_per_sec"] for name in pipeline_speed.PATHS}
    assert run["trainer_over_in_memory"] == pytest.approx(rate["trainer"] / rate["in_memory"])
    assert run["trainer_over_old_input"] == pytest.approx(rate["trainer"] / rate["trainer_old_input"])


def test_arguments_and_workdirs_are_checked(tmp_path):
    from benchmarks import pipeline_speed

    with pytest.raises(SystemExit, match="--workdir"):
        pipeline_speed.main(["--trainer-only", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="drop --trainer-only"):
        pipeline_speed.transform_output(str(tmp_path))
    with pytest.raises(ValueError, match="simulation.json"):
        pipeline_speed.raw_features(str(tmp_path))
