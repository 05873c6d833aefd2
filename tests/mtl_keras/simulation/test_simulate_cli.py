import json

import pytest

from mtl_keras import names
from mtl_keras.cli import main
from mtl_keras.simulation import read_dataset
from mtl_keras.simulation import config as sim_config


def test_simulate_writes_files_and_prints_rates(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--out", str(out), "--requests", "3000", "--seed", "4", "--format", "csv",
                 "--chunk-size", "1000", "--bias-strength", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "win_rate" in printed and "cvr" in printed and "selection bias" in printed
    assert sorted(p.name for p in out.glob("requests-*.csv")) == ["requests-00000.csv", "requests-00001.csv", "requests-00002.csv"]
    summary = json.loads((out / sim_config.SUMMARY_FILE).read_text())
    assert summary["config"]["bias_strength"] == 0.5 and summary["config"]["seed"] == 4
    frame = read_dataset(out)
    assert len(frame) == 3000
    assert f"{frame[names.WON].mean():.4f}" in printed  # the printed observed win rate is the data's


def test_config_file_and_flags(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"num_requests": 500, "base_ctr": 0.2, "seed": 9}))
    assert main(["simulate", "--out", str(tmp_path / "o"), "--config", str(config), "--seed", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["num_requests"] == 500
    assert summary["config"]["base_ctr"] == 0.2 and summary["config"]["seed"] == 1


def test_bad_input_is_an_error_message_not_a_traceback(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--requests", "0"]) == 2
    assert "num_requests" in capsys.readouterr().err


def test_scenario_presets_and_world_seed(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "c"), "--scenario", "confounded", "--requests", "400",
                 "--world-seed", "3", "--json"]) == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert config["intent_strength"] == 1.0 and config["market_price_sigma"] == 1.0 and config["world_seed"] == 3
    assert main(["simulate", "--out", str(tmp_path / "x"), "--scenario", "nope"]) == 2
    assert "scenario" in capsys.readouterr().err
