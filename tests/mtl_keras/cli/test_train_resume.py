"""`mtl-ads train` killed (SIGKILL) in epoch 3 of 4 and rerun with the same command trains only the
rest and ends with the weights of an uninterrupted run; --overwrite replaces a model directory whole;
--checkpoint-every-steps resumes mid-epoch at the next step."""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from mtl_keras import checkpointing, training
from mtl_keras.cli import main
from mtl_keras.config import ModelConfig
from mtl_keras.synthetic import make_impressions

EPOCHS = 4
# Runs the real `mtl-ads train` with one extra callback that SIGKILLs the process when epoch 3 begins,
# i.e. after the checkpoint of epoch 2 is written and before epoch 3 ends.
KILLER = textwrap.dedent("""
    import os, signal, sys
    import tf_keras as keras
    from mtl_keras.cli import build_parser, train

    class KillInEpoch3(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    args = build_parser("train").parse_args(sys.argv[1:])  # ["train", "--config", ...]
    train.run(args, callbacks=[KillInEpoch3()])
""")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    frame, spec = make_impressions(1500, vocabulary_sizes=[20, 5], num_dense=2, ctr=0.2, cvr=0.3, embedding_dim=4)
    # No conversions at all: metrics.json must then say null where a metric is undefined.
    frame = frame.drop(columns=["true_p_ctr", "true_p_cvr"]).assign(conversion=0)
    frame.to_csv(root / "log.csv", index=False)
    # Several batches per epoch: the resumed run must continue the same shuffled stream.
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         objective="esmm", tower_units=[4], batch_size=256, epochs=EPOCHS, learning_rate=0.01)
    (root / "config.json").write_text(config.to_json())
    (root / "other.json").write_text(config.to_json().replace('"learning_rate": 0.01', '"learning_rate": 0.02'))
    return root


def _command(root, out, config="config.json"):
    return ["train", "--config", str(root / config), "--data", str(root / "log.csv"), "--out", str(out),
            "--verbose", "0"]


def _main(argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(log, tmp_path_factory):
    """An uninterrupted run (over an old model directory, with --overwrite), and a run SIGKILLed in
    epoch 3 of 4, then rerun with another config (refused) and with the same command (resumed)."""
    base = tmp_path_factory.mktemp("runs")
    reference = base / "reference"
    (reference / "saved_model" / "variables_temp").mkdir(parents=True)
    (reference / "metrics.json").write_text('{"old": true}')
    (reference / "config.json").write_text("{}")
    result = {"reference": reference, "out": base / "model", "partial": base / "model.partial"}
    result["reference_run"] = _main(_command(log, reference) + ["--overwrite"])
    killed = subprocess.run([sys.executable, "-c", KILLER, *_command(log, result["out"])], capture_output=True,
                            text=True, timeout=600)
    result["killed"] = killed
    result["checkpoint"] = checkpointing.resume_point(str(result["partial"] / "backup"))
    result["killed_history"] = checkpointing.read_history(str(result["partial"] / "history.jsonl"))
    result["other_config_run"] = _main(_command(log, result["out"], "other.json"))
    result["resumed_run"] = _main(_command(log, result["out"]))
    return result


def _variables(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir / "saved_model" / "variables" / "variables"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(runs):
    assert runs["reference_run"][0] == 0, runs["reference_run"][2]
    assert runs["killed"].returncode == -signal.SIGKILL, runs["killed"].stderr
    assert runs["checkpoint"][0] == 1 and len(runs["killed_history"]["loss"]) == 2  # epochs 1-2 done
    code, printed, err = runs["resumed_run"]  # the same command, no extra flag
    assert code == 0, err
    assert "resuming the unfinished run" in printed and "continues with epoch 3 of 4" in printed
    out = runs["out"]
    assert not runs["partial"].exists() and sorted(os.listdir(out)) == ["config.json", "metrics.json", "saved_model"]
    expected, resumed = _variables(runs["reference"]), _variables(out)
    assert expected.keys() == resumed.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
    steps = int(expected["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"])
    assert steps > EPOCHS and steps % EPOCHS == 0  # several batches per epoch
    assert int(resumed["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == steps
    history = json.loads((out / "metrics.json").read_text())["history"]
    reference_history = json.loads((runs["reference"] / "metrics.json").read_text())["history"]
    assert len(history["loss"]) == EPOCHS
    np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=1e-4)


def test_another_config_does_not_take_over_an_unfinished_run(runs):
    code, _, err = runs["other_config_run"]
    assert code == 2
    assert "has an unfinished run" in err and "different config (learning_rate)" in err and "--overwrite" in err


def test_overwrite_replaces_the_whole_model_directory(runs):
    reference = runs["reference"]
    assert sorted(os.listdir(reference)) == ["config.json", "metrics.json", "saved_model"]
    assert not (reference / "saved_model" / "variables_temp").exists()
    assert json.loads((reference / "config.json").read_text())["epochs"] == EPOCHS
    assert not (reference.parent / "reference.partial").exists()


def test_metrics_json_is_strict_json_with_null_where_undefined(runs):
    def no_constants(name):
        raise AssertionError(f"metrics.json holds {name}")

    metrics = json.loads((runs["reference"] / "metrics.json").read_text(), parse_constant=no_constants)
    for task in ("ctcvr", "cvr"):  # no conversions: no positives
        assert metrics["eval"][task]["positives"] == 0
        assert metrics["eval"][task]["auc"] is None and metrics["eval"][task]["calibration_ratio"] is None
        assert metrics["eval"][task]["log_loss"] is not None
    assert metrics["eval"]["ctr"]["auc"] is not None
    _, printed, err = runs["reference_run"]
    assert "warning: the training data has no conversion=1 among its" in err
    assert "warning: evaluation task 'cvr' has 0 positives in" in err and "auc, calibration_ratio undefined" in err
    assert "cvr    auc=n/a" in printed


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.stop, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.stop:
            raise KeyboardInterrupt


def test_checkpoint_every_steps_resumes_at_the_next_step(tmp_path):
    frame, spec = make_impressions(1200, vocabulary_sizes=[20, 5], num_dense=1, ctr=0.2, cvr=0.3, embedding_dim=4)
    config = ModelConfig(features=spec, backbone="shared_bottom", tower_units=[4], batch_size=256, epochs=2,
                         train_metrics=False)
    steps = -(-len(frame) // config.batch_size)
    backup, history = str(tmp_path / "backup"), str(tmp_path / "history.jsonl")
    with pytest.raises(KeyboardInterrupt):
        training.train(config, frame, verbose=0, callbacks=[
            checkpointing.EpochAndStepBackup(backup, every_steps=2, history_path=history), _StopAt(1, 3)])
    assert checkpointing.resume_point(backup) == (1, 1)  # saved after steps 2 and 4 of epoch 2 (0-based 1, 3)
    model, _ = training.train(config, frame, verbose=0, callbacks=[
        checkpointing.EpochAndStepBackup(backup, every_steps=2, history_path=history)],
        first_step=checkpointing.saved_steps(backup))
    assert int(model.optimizer.iterations.numpy()) == config.epochs * steps  # only the remaining steps ran
    # The same batches in the same order as an uninterrupted run: the same weights.
    reference, _ = training.train(config, frame, verbose=0)
    for got, want in zip(model.trainable_variables, reference.trainable_variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6, err_msg=got.name)
    assert len(checkpointing.read_history(history)["loss"]) == config.epochs
    assert checkpointing.resume_point(backup) is None  # deleted once fit ends


def test_history_lines_cut_by_a_kill_are_skipped_and_reruns_replace_an_epoch(tmp_path):
    path = str(tmp_path / "history.jsonl")
    checkpointing.append_history(path, 0, {"loss": 1.0})
    with open(path, "a") as f:
        f.write('{"epoch": 1, "logs": {"lo')  # killed mid-line
    checkpointing.append_history(path, 1, {"loss": 0.5})
    checkpointing.append_history(path, 1, {"loss": float("nan")})
    assert checkpointing.read_history(path) == {"loss": [1.0, None]}
