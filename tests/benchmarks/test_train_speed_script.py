"""benchmarks/train_speed.py end to end on a few thousand rows, with the DeepCTR baseline."""
import json

import pytest


@pytest.fixture(scope="module")
def train_speed():
    from benchmarks import train_speed as module

    return module


def test_writes_every_field_and_ratios_of_one_run(train_speed, tmp_path):
    out = tmp_path / "speed.json"
    train_speed.main(["--out", str(out), "--rows", "6000", "--test-rows", "3000", "--batch-size", "256",
                      "--models", "mmoe", "--steps-per-execution", "1,4", "--baseline", "deepctr"])
    result = json.loads(out.read_text())
    ours = [r for r in result["results"] if r["library"] == "mtl_keras"]
    (base,) = [r for r in result["results"] if r["library"].startswith("deepctr")]
    assert [r["steps_per_execution"] for r in ours] == [1, 4]
    for r in ours + [base]:
        assert r["steps"] == 24  # ceil(6000 / 256)
        assert r["examples_per_sec"] > 0 and r["wall_s"] > 0 and r["peak_rss_mb"] > 0
        assert 0 < r["auc_ctr"] < 1 and 0 < r["auc_ctcvr"] < 1, r  # learning is tested in test_models.py
    for r, ratio in zip(ours, result["ratios"]):
        assert ratio["steps_per_execution"] == r["steps_per_execution"]
        assert ratio["examples_per_sec_ours_over_deepctr"] == pytest.approx(r["examples_per_sec"] / base["examples_per_sec"])
        assert ratio["wall_ours_over_deepctr"] == pytest.approx(r["wall_s"] / base["wall_s"])
        assert ratio["auc_ctr_diff"] == pytest.approx(r["auc_ctr"] - base["auc_ctr"])


def test_steady_rate_counts_rows_after_the_warm_up_executions(train_speed):
    timer = train_speed.StepTimer()
    # Executions of 4 steps ending at steps 3, 7, 11, 13 (the last one short), one second apart.
    timer.steps, timer.times = [3, 7, 11, 13], [1.0, 2.0, 3.0, 4.0]
    # Warm-up 6 steps: counting starts after the execution ending at step 7; then steps 8..13 run,
    # 6 batches of 10 rows except the last, which holds 135 - 13 * 10 = 5 rows.
    assert timer.steady(rows=135, batch_size=10, warmup_steps=6) == pytest.approx((40 + 15) / 2.0)


def test_written_rows_are_read_back_by_data_and_repeats_keep_the_fastest(train_speed, tmp_path):
    import pandas as pd

    data = tmp_path / "rows"
    train_speed.main(["--write-data", str(data), "--rows", "6000", "--test-rows", "3000", "--seed", "3"])
    train = pd.read_parquet(data / "train.parquet")
    assert len(train) == 6000 and len(pd.read_parquet(data / "test.parquet")) == 3000
    assert list(train.columns) == [f"c{i}" for i in range(16)] + [f"d{j}" for j in range(4)] + ["click", "conversion"]
    assert not [c for c in train.columns if c.startswith("true_")]  # no ground truth in the shared rows
    out = tmp_path / "speed.json"
    train_speed.main(["--out", str(out), "--data", str(data), "--batch-size", "256", "--models", "esmm",
                      "--repeats", "2"])
    (result,) = json.loads(out.read_text())["results"]
    assert len(result["examples_per_sec_runs"]) == 2
    assert result["examples_per_sec"] == max(result["examples_per_sec_runs"])
    assert result["steps"] == 24  # the 6000 rows read from --data, batches of 256
