import json

import numpy as np
import pytest

from mtl_keras.cli import main
from mtl_keras.propensity import LogNormalAFTWinModel, load_win_model
from mtl_keras.propensity.datasets import load_auction_log
from mtl_keras.simulation import SimulationConfig, write_dataset
from mtl_keras.propensity.factory import WIN_MODEL_KINDS

# The fixed default penalties keep these runs short; test_ipinyou_table runs the default, --penalizer cv.
_SMALL = ["--max-fit-rows", "3000", "--categorical", "device,hour", "--numeric", "num_0,num_1", "--penalizer", "default"]


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    write_dataset(SimulationConfig(num_requests=8_000, seed=6), out)
    return out


def test_evaluate_writes_one_entry_per_model_and_a_plot(sim_dir, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    assert main(["propensity", "evaluate", "--data", str(sim_dir), "--out", str(report_path), *_SMALL]) == 0
    report = json.loads(report_path.read_text())
    assert list(report["models"]) == list(WIN_MODEL_KINDS)
    assert report["source"] == "simulated" and report["train_rows"] == 6_000 and report["test_rows"] == 2_000
    assert "subsample" in report["note"] and report["max_fit_rows"] == 3_000
    for kind, entry in report["models"].items():
        for key in ("c_index", "c_index_restricted", "anlp", "brier", "integrated_brier", "win_rate_calibration",
                    "p_win_mae"):
            assert entry[key] is not None, (kind, key)
        if kind == "neural":  # batched Keras fit on every train row
            assert entry["fit"]["fit_rows"] == 6_000 and not entry["fit"]["subsampled"]
        else:
            assert entry["fit"]["fit_rows"] == 3_000 and entry["fit"]["subsampled"]
    assert report["models"]["lognormal_aft"]["p_win_mae"] < report["models"]["km"]["p_win_mae"]
    assert report["models"]["neural"]["p_win_mae"] < report["models"]["km"]["p_win_mae"]
    png = tmp_path / "report.png"
    assert report["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    segments = tmp_path / "report.segments.png"
    assert report["segment_plot"] == str(segments) and segments.read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert f"{report['models']['cox']['brier']:.4f}" in printed


def test_fit_saves_a_model_that_scores_like_the_report(sim_dir, tmp_path):
    out = tmp_path / "m.json"
    assert main(["propensity", "fit", "--data", str(sim_dir), "--kind", "lognormal_aft", "--out", str(out), *_SMALL]) == 0
    model = load_win_model(out)
    assert isinstance(model, LogNormalAFTWinModel) and model.encoder.numeric == ["num_0", "num_1"]
    train, test, _ = load_auction_log(sim_dir)
    again = LogNormalAFTWinModel(categorical=["device", "hour"], numeric=["num_0", "num_1"], max_fit_rows=3_000).fit(train)
    assert model.penalizer == model.penalizer_ == 0.01
    np.testing.assert_allclose(model.predict_p_win(test), again.predict_p_win(test), atol=1e-10)
    assert (tmp_path / "m.png").is_file()


def test_ipinyou_table(ipinyou_dir, tmp_path):
    out = tmp_path / "ip.json"
    assert main(["propensity", "evaluate", "--data", str(ipinyou_dir), "--out", str(out),
                 "--models", "km,km_segment,lognormal_aft", "--max-levels", "3", "--penalizer", "default"]) == 0
    report = json.loads(out.read_text())
    assert report["source"] == "ipinyou" and report["test_rows"] == 4_171
    assert set(report["models"]) == {"km", "km_segment", "lognormal_aft"}
    assert all(m["p_win_mae"] is None for m in report["models"].values())
    # --penalizer cv is the default: the saved model records the grid's scores and the penalty it chose.
    assert main(["propensity", "fit", "--data", str(ipinyou_dir), "--kind", "lognormal_aft", "--max-levels", "3",
                 "--out", str(tmp_path / "m.json")]) == 0
    fitted = load_win_model(tmp_path / "m.json")
    assert fitted.penalizer == "cv" and repr(fitted.penalizer_) in fitted.penalizer_cv and len(fitted.penalizer_cv) == 4
    # km_segment picks the floor-price bucket (field_15) and beats the global KM's ANLP (4.77).
    assert report["segment_plot_column"] == "field_15"
    assert report["models"]["km_segment"]["anlp"] < report["models"]["km"]["anlp"] - 0.4


def test_bad_arguments_are_error_messages(sim_dir, tmp_path, capsys):
    assert main(["propensity", "evaluate", "--data", str(sim_dir), "--out", str(tmp_path / "r.json"),
                 "--models", "km,deep"]) == 2
    assert "deep" in capsys.readouterr().err
    assert main(["propensity", "fit", "--data", str(tmp_path), "--out", str(tmp_path / "m.json")]) == 2
    assert "mtl-ads simulate" in capsys.readouterr().err
    assert main(["propensity", "fit", "--data", str(sim_dir), "--out", str(tmp_path / "m.json"), "--penalizer", "x"]) == 2
    assert "--penalizer" in capsys.readouterr().err
