import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mtl_keras.cli import main
from mtl_keras.config import ModelConfig
from mtl_keras.data import read_table
from mtl_keras.example_codec import encode_frame
from mtl_keras.synthetic import make_impressions


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    frame, spec = make_impressions(3000, vocabulary_sizes=[20, 5], num_dense=2, ctr=0.2, cvr=0.3, embedding_dim=4)
    frame = frame.drop(columns=["true_p_ctr", "true_p_cvr"])
    root = tmp_path_factory.mktemp("log")
    frame.to_csv(root / "log.csv", index=False)
    frame.to_parquet(root / "log.parquet")
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(root / "log.tfrecord")) as writer:
        for record in encode_frame(frame):
            writer.write(record)
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         objective="escm2_ips", tower_units=[4], batch_size=256, epochs=2)
    (root / "config.json").write_text(config.to_json())
    return root, frame


def test_the_three_formats_read_the_same_rows(log):
    root, frame = log
    for name in ("log.csv", "log.parquet", "log.tfrecord"):
        got = read_table(str(root / name))
        for column in frame.columns:
            np.testing.assert_allclose(got[column].to_numpy(np.float64), frame[column].to_numpy(np.float64),
                                       rtol=1e-6, err_msg=f"{name}:{column}")


def test_train_writes_model_and_metrics_without_tensorflow_log_noise(log, tmp_path):
    root, frame = log
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "mtl-ads"), "train", "--config", str(root / "config.json"),
                             "--data", str(root / "log.tfrecord"), "--out", str(out)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["eval"]) == {"ctr", "ctcvr", "cvr"}
    assert metrics["train_rows"] + metrics["eval_rows"] == len(frame)
    assert len(metrics["history"]["ctr_auc"]) == 2 and np.isfinite(metrics["history"]["loss"]).all()
    assert (out / "saved_model" / "saved_model.pb").exists()
    assert "ctr    auc=" in result.stdout and "saved model:" in result.stdout
    for noise in ("oneDNN custom operations", "cuda_dnn", "TF-TRT Warning", "cpu_feature_guard"):
        assert noise not in result.stderr


def test_train_reports_a_feature_missing_from_the_data(log, tmp_path, capsys):
    root, frame = log
    frame.drop(columns=["c1"]).to_csv(tmp_path / "bad.csv", index=False)
    code = main(["train", "--config", str(root / "config.json"), "--data", str(tmp_path / "bad.csv"),
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "['c1'] are in the FeatureSpec but not in the data" in capsys.readouterr().err


def test_train_reports_bad_paths_and_bad_json(log, tmp_path, capsys):
    root, _ = log
    assert main(["train", "--config", str(tmp_path / "nope.json"), "--data", "x", "--out", "o"]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["train", "--config", str(tmp_path / "bad.json"), "--data", "x", "--out", "o"]) == 2
    assert main(["train", "--config", str(root / "config.json"), "--data", str(tmp_path / "none.csv"),
                 "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert "nope.json' does not exist" in err and "not valid JSON" in err and "none.csv' does not exist" in err


def test_calibrate_and_tensorboard_flags(log, tmp_path):
    from mtl_keras.calibration import MultiTaskCalibration

    root, _ = log
    out, board = tmp_path / "model", tmp_path / "board"
    assert main(["train", "--config", str(root / "config.json"), "--data", str(root / "log.csv"), "--out", str(out),
                 "--verbose", "0", "--epochs", "1", "--eval-fraction", "0.6", "--calibrate", "platt",
                 "--tensorboard", str(board)]) == 0
    calibration = MultiTaskCalibration.load(str(out / "calibration.json"))
    assert sorted(calibration.calibrators) == ["p_ctr", "p_cvr"] and calibration.metadata["kind"] == "platt"
    metrics = json.loads((out / "metrics.json").read_text())  # strict JSON, the report inside
    for half in ("a", "b"):
        assert {"before", "after"} <= set(metrics["calibration"]["cross_fitted"][half]["p_ctr"])
    import tensorflow as tf

    tags = {v.tag for path in (board / "train").glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for v in event.summary.value}
    assert {"overall/loss", "ctr/loss", "gates/ctr/entropy"} <= tags, sorted(tags)
