"""RunDirectory (the --out of mtl-ads train) on a real filesystem: the commit replaces OUT whole, a
kill inside the commit leaves a state the next run repairs, and leftovers are told apart."""
import json
import os

import pytest

from mtl_keras.run_directory import RunDirectory
from mtl_keras.run_report import null_undefined

FINGERPRINT = {"config": {"epochs": 2, "learning_rate": 0.01}, "data": "/d/log.csv"}


def _write_model(tag):
    def write(directory):
        os.makedirs(os.path.join(directory, "saved_model"))
        for name in ("metrics.json", "config.json"):
            with open(os.path.join(directory, name), "w") as f:
                json.dump({"tag": tag}, f)
    return write


def _tag(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)["tag"]


def _checkpoint(run):
    os.makedirs(os.path.join(run.backup_dir, "chief"))
    with open(os.path.join(run.backup_dir, "chief", "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-1"\n')


def test_commit_puts_the_new_model_in_place_of_the_old_one(tmp_path):
    out = str(tmp_path / "m")
    first = RunDirectory(out, FINGERPRINT)
    assert first.prepare() == "new" and os.path.isfile(os.path.join(first.partial, "run.json"))
    first.commit(_write_model("old"))
    assert _tag(out) == "old" and not os.path.exists(first.partial)
    with pytest.raises(ValueError, match="already holds a trained model .* pass --overwrite"):
        RunDirectory(out, FINGERPRINT).prepare()
    second = RunDirectory(out, FINGERPRINT, overwrite=True)
    assert second.prepare() == "new"
    assert _tag(out) == "old"  # untouched until the new model is complete
    second.commit(_write_model("new"))
    assert _tag(out) == "new" and sorted(os.listdir(out)) == ["config.json", "metrics.json", "saved_model"]


def test_a_kill_between_the_renames_of_commit_gets_the_old_model_back(tmp_path):
    out = str(tmp_path / "m")
    first = RunDirectory(out, FINGERPRINT)
    first.prepare()
    first.commit(_write_model("old"))
    run = RunDirectory(out, FINGERPRINT, overwrite=True)
    run.prepare()
    os.rename(out, os.path.join(run.partial, "replaced"))  # what commit does first; then the kill
    assert RunDirectory(out, FINGERPRINT, overwrite=True).prepare() == "new"
    assert _tag(out) == "old"


def test_unfinished_runs_resume_only_with_a_checkpoint_and_the_same_fingerprint(tmp_path):
    out = str(tmp_path / "m")
    run = RunDirectory(out, FINGERPRINT)
    run.prepare()
    assert RunDirectory(out, FINGERPRINT).prepare() == "new"  # no checkpoint yet: nothing to resume
    _checkpoint(run)
    assert RunDirectory(out, FINGERPRINT).prepare() == "resume"
    other = {**FINGERPRINT, "config": {"epochs": 3, "learning_rate": 0.01}}
    with pytest.raises(ValueError, match=r"unfinished run .* different config \(epochs\)"):
        RunDirectory(out, other).prepare()
    assert RunDirectory(out, other, overwrite=True).prepare() == "new"
    assert not os.path.exists(run.backup_dir)


def test_discard_if_unstarted_removes_only_state_without_a_checkpoint(tmp_path):
    run = RunDirectory(str(tmp_path / "m"), FINGERPRINT)
    run.prepare()
    run.discard_if_unstarted()
    assert not os.path.exists(run.partial)
    run.prepare()
    _checkpoint(run)
    run.discard_if_unstarted()
    assert os.path.isdir(run.partial)


def test_a_partial_directory_holding_other_files_is_not_removed(tmp_path):
    (tmp_path / "m.partial").mkdir()
    (tmp_path / "m.partial" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"m.partial' holds files that are not an unfinished"):
        RunDirectory(str(tmp_path / "m"), FINGERPRINT).prepare()
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"'.*/f' is a file, not a directory"):
        RunDirectory(str(tmp_path / "f" / "m"), FINGERPRINT).prepare()


def test_null_undefined_nulls_every_metric_of_an_empty_task():
    report, warnings = null_undefined({
        "cvr": {"count": 0, "positives": 0, "auc": 0.5, "log_loss": 0.0, "ece": 0.0, "calibration_ratio": float("nan")},
        "ctr": {"count": 4, "positives": 4, "auc": 0.5, "log_loss": 0.1, "ece": 0.1, "calibration_ratio": 0.9},
    })
    assert report["cvr"] == {"count": 0, "positives": 0, "auc": None, "log_loss": None, "ece": None,
                             "calibration_ratio": None}
    assert report["ctr"]["auc"] is None and report["ctr"]["calibration_ratio"] == 0.9
    assert warnings == [
        "evaluation task 'cvr' has 0 positives in 0 rows: auc, calibration_ratio, ece, log_loss undefined "
        "(null in metrics.json).",
        "evaluation task 'ctr' has 4 positives in 4 rows: auc undefined (null in metrics.json)."]
