import json

import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.calibration import MultiTaskCalibration
from mtl_keras.cli import main
from mtl_keras.config import ModelConfig
from mtl_keras.synthetic import make_impressions


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    frame, spec = make_impressions(2500, vocabulary_sizes=[20, 5], num_dense=2, ctr=0.2, cvr=0.3, embedding_dim=4)
    frame = frame.drop(columns=["true_p_ctr", "true_p_cvr"])
    frame[names.P_WIN] = np.random.default_rng(0).uniform(0.1, 0.9, len(frame))
    root = tmp_path_factory.mktemp("calibrate")
    frame.to_csv(root / "log.csv", index=False)
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         objective="escm2_ips", tower_units=[4], batch_size=512, epochs=1)
    (root / "config.json").write_text(config.to_json())
    assert main(["train", "--config", str(root / "config.json"), "--data", str(root / "log.csv"),
                 "--out", str(root / "model"), "--verbose", "0"]) == 0
    return root


def test_calibrate_writes_calibration_report_and_plots(trained, capsys):
    out = trained / "calibration"
    assert main(["calibrate", "--model", str(trained / "model"), "--data", str(trained / "log.csv"),
                 "--space", "request", "--kind", "platt", "--slice-field", "c1", "--out", str(out)]) == 0
    calibration = MultiTaskCalibration.load(str(out / "calibration.json"))
    assert set(calibration.calibrators) == {names.P_CTR, names.P_CVR}
    assert calibration.slice_fields == {names.P_CTR: "c1", names.P_CVR: "c1"}
    assert calibration.calibrators[names.P_CTR].space == "request"
    assert calibration.metadata["space"] == "request" and calibration.metadata["model"].endswith("saved_model")
    report = json.loads((out / "calibration_report.json").read_text())
    assert report["fit_rows"] + report["eval_rows"] == 2500 and not report["in_sample"]
    assert set(report["outputs"]) == {names.P_CTR, names.P_CVR, names.P_CTCVR}
    for output, table in report["outputs"].items():
        assert 0 < table["after"]["ece"] < 1 and (out / f"reliability_{output}.png").exists()
    assert "p_ctr    ece" in capsys.readouterr().out


def test_calibrate_reports_bad_input(trained, tmp_path, capsys):
    import pandas as pd

    pd.read_csv(trained / "log.csv").drop(columns=[names.P_WIN]).to_csv(tmp_path / "no_p_win.csv", index=False)
    base = ["calibrate", "--model", str(trained / "model"), "--out", str(tmp_path / "o")]
    assert main(base + ["--data", str(tmp_path / "no_p_win.csv"), "--space", "request"]) == 2
    assert main(base + ["--data", str(trained / "log.csv"), "--slice-field", "advertiser"]) == 2
    assert main(["calibrate", "--model", str(tmp_path), "--data", str(trained / "log.csv"), "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert "--data has no 'p_win' column" in err and "--slice-field 'advertiser' is not a column" in err
    assert "holds no saved_model.pb" in err
