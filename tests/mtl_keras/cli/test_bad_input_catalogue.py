"""One case per bad input of `mtl-ads train` / `mtl-ads propensity`: exit status 2 and a message that
names the field or the file (and no traceback), before any training starts."""
import contextlib
import gzip
import json
import os
import shutil
import tempfile

import pandas as pd
import pytest

from mtl_keras.cli import main
from mtl_keras.config import ModelConfig
from mtl_keras.example_codec import encode_frame
from mtl_keras.synthetic import make_impressions


class Inputs:
    """A valid config and log in a world-readable directory; `case()` writes variants beside them."""

    def __init__(self, base: str):
        self.base = base
        frame, spec = make_impressions(300, vocabulary_sizes=[10, 5], num_dense=1, ctr=0.2, cvr=0.3, embedding_dim=4)
        self.frame = frame.drop(columns=["true_p_ctr", "true_p_cvr"])
        self.raw = json.loads(ModelConfig(features=spec, backbone="shared_bottom", tower_units=[4]).to_json())
        self.config = self.write_config("config.json", {})
        self.csv = self.path("log.csv")
        self.frame.to_csv(self.csv, index=False)
        self.records = encode_frame(self.frame)
        for path in (self.config, self.csv):
            os.chmod(path, 0o644)  # readable by the unprivileged user of the unwritable case
        self._tfrecord = None

    def path(self, name: str) -> str:
        return os.path.join(self.base, name)

    def write_config(self, name: str, override: dict) -> str:
        with open(self.path(name), "w") as f:
            json.dump({**self.raw, **override}, f)
        return self.path(name)

    def write_bytes(self, name: str, data: bytes) -> str:
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def tfrecord_bytes(self) -> bytes:
        if self._tfrecord is None:
            self._tfrecord = _tfrecord(self.records)
        return self._tfrecord

    def train(self, config=None, data=None, out=None, *extra):
        return ["train", "--config", config or self.config, "--data", data or self.csv,
                "--out", out or self.path("out"), "--verbose", "0", *extra]


def _tfrecord(records) -> bytes:
    import tensorflow as tf

    path = tempfile.mktemp(suffix=".tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


@pytest.fixture(scope="module")
def inputs():
    base = tempfile.mkdtemp(prefix="catalogue-")
    os.chmod(base, 0o755)  # readable by the unprivileged user of the unwritable case
    yield Inputs(base)
    shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def unwritable_directory(base: str):
    """A directory this process cannot write in: mode 0555, and as root the effective user `nobody`."""
    locked = os.path.join(base, "locked")
    os.makedirs(locked, exist_ok=True)
    os.chmod(locked, 0o555)
    as_root = os.geteuid() == 0
    try:
        if as_root:
            try:
                os.seteuid(65534)
            except PermissionError:
                pytest.skip("running as root without the right to drop privileges")
        yield locked
    finally:
        if as_root and os.geteuid() != 0:
            os.seteuid(0)
        os.chmod(locked, 0o755)


def _directory_with_one_bad_file(i: Inputs) -> str:
    folder = i.path("records")
    os.makedirs(folder, exist_ok=True)
    good = i.tfrecord_bytes()
    with open(os.path.join(folder, "a.tfrecord"), "wb") as f:
        f.write(good)
    with open(os.path.join(folder, "b.tfrecord"), "wb") as f:
        f.write(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    return folder


def _finished_model(i: Inputs) -> str:
    out = i.path("finished")
    os.makedirs(os.path.join(out, "saved_model"), exist_ok=True)
    for name in ("metrics.json", "config.json"):
        with open(os.path.join(out, name), "w") as f:
            f.write("{}")
    return out


def _foreign_directory(i: Inputs) -> str:
    out = i.path("notes")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "notes.txt"), "w") as f:
        f.write("mine")
    return out


def _simulated_without_bid_price(i: Inputs) -> list:
    from mtl_keras.simulation import SimulationConfig, write_dataset

    folder = i.path("sim")
    if not os.path.isdir(folder):
        write_dataset(SimulationConfig(num_requests=2_000, seed=3), folder)
    part = sorted(f for f in os.listdir(folder) if f.endswith(".parquet"))[0]
    frame = pd.read_parquet(os.path.join(folder, part))
    frame.drop(columns=["bid_price"]).to_parquet(os.path.join(folder, part))
    return ["propensity", "evaluate", "--data", folder, "--out", i.path("report.json"), "--models", "km"]


# name: (argv from the Inputs, texts the message must contain)
CASES = {
    "learning_rate_as_string": (lambda i: i.train(i.write_config("c1.json", {"learning_rate": "0.001"})),
                                ["c1.json", "ModelConfig.learning_rate must be a number, got str '0.001'",
                                 "without quotes"]),
    "task_weights_as_list": (lambda i: i.train(i.write_config("c2.json", {"task_weights": [1.0, 2.0]})),
                             ["ModelConfig.task_weights must be an object of numbers or null, got list"]),
    "epochs_fractional": (lambda i: i.train(i.write_config("c3.json", {"epochs": 1.5})),
                          ["ModelConfig.epochs must be an integer, got float 1.5"]),
    "backbone_as_number": (lambda i: i.train(i.write_config("c4.json", {"backbone": 3})),
                           ["ModelConfig.backbone must be a name", "got 3"]),
    "feature_size_as_string": (lambda i: i.train(i.write_config("c5.json", {"features": {"categorical": [
        {"name": "c0", "vocabulary_size": "10"}]}})), ["CategoricalFeature 'c0': vocabulary_size must be an integer"]),
    "config_missing": (lambda i: i.train(i.path("nope.json")), ["--config", "nope.json' does not exist"]),
    "config_empty": (lambda i: i.train(i.write_bytes("empty.json", b"")), ["empty.json", "the file is empty"]),
    "data_missing": (lambda i: i.train(data=i.path("none.csv")), ["--data", "none.csv' does not exist"]),
    "eval_data_missing": (lambda i: i.train(None, None, None, "--eval-data", i.path("none.parquet")),
                          ["--eval-data", "none.parquet' does not exist"]),
    "csv_empty": (lambda i: i.train(data=i.write_bytes("empty.csv", b"")), ["empty.csv", "is empty (0 bytes)"]),
    "csv_header_only": (lambda i: i.train(data=i.write_bytes("header.csv", b"c0,c1,d0,click,conversion\n")),
                        ["header.csv", "holds no rows"]),
    "csv_not_text": (lambda i: i.train(data=i.write_bytes("binary.csv", b"\xff\xfe\x00" * 50)),
                     ["cannot read CSV file", "binary.csv"]),
    "parquet_truncated": (lambda i: i.train(data=i.write_bytes("cut.parquet", _parquet(i)[:-20])),
                          ["cut.parquet", "not a complete Parquet file"]),
    "tfrecord_empty": (lambda i: i.train(data=i.write_bytes("empty.tfrecord", b"")),
                       ["empty.tfrecord", "is empty (0 bytes)"]),
    "tfrecord_truncated": (lambda i: i.train(data=i.write_bytes("cut.tfrecord", i.tfrecord_bytes()[:-7])),
                           ["cut.tfrecord", "truncated record", "truncated or corrupt"]),
    "tfrecord_corrupt": (lambda i: i.train(data=i.write_bytes("bad.tfrecord", _flip(i.tfrecord_bytes(), 100))),
                         ["bad.tfrecord", "corrupted record", "truncated or corrupt"]),
    "tfrecord_directory_with_a_corrupt_file": (lambda i: i.train(data=_directory_with_one_bad_file(i)),
                                               ["b.tfrecord", "corrupted record"]),
    "gz_not_gzip": (lambda i: i.train(data=i.write_bytes("plain.gz", i.tfrecord_bytes())),
                    ["plain.gz", "not gzip-compressed"]),
    "gz_truncated": (lambda i: i.train(data=i.write_bytes("cut.gz", gzip.compress(i.tfrecord_bytes())[:300])),
                     ["cut.gz", "truncated or corrupt"]),
    "out_is_a_file": (lambda i: i.train(out=i.write_bytes("out.txt", b"x")), ["--out", "out.txt' is a file"]),
    "out_holds_a_finished_model": (lambda i: i.train(out=_finished_model(i)),
                                   ["finished' already holds a trained model", "--overwrite"]),
    "out_holds_other_files": (lambda i: i.train(None, None, _foreign_directory(i), "--overwrite"),
                              ["notes' holds files that mtl-ads train did not write (notes.txt)"]),
    "checkpoint_every_zero_steps": (lambda i: i.train(None, None, None, "--checkpoint-every-steps", "0"),
                                    ["--checkpoint-every-steps must be >= 1"]),
    "propensity_data_missing": (lambda i: ["propensity", "fit", "--data", i.path("nosim"), "--out", i.path("m.json")],
                                ["--data", "nosim' does not exist"]),
    "propensity_parquet_without_bid_price": (_simulated_without_bid_price,
                                             ["requests-00000.parquet", "has no column 'bid_price'"]),
}


def _parquet(i: Inputs) -> bytes:
    path = i.path("ok.parquet")
    i.frame.to_parquet(path)
    with open(path, "rb") as f:
        return f.read()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_naming_the_field_or_file(inputs, case, capsys):
    build, expected = CASES[case]
    argv = build(inputs)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for text in expected:
        assert text in captured.err, f"{case}: {text!r} not in {captured.err!r}"
    for leftover in ("out", "out.partial"):
        assert not os.path.exists(inputs.path(leftover)), "nothing may be written for a bad input"


def test_unwritable_out_exits_2_before_reading_the_data(inputs, capsys):
    with unwritable_directory(inputs.base) as locked:
        code = main(inputs.train(out=os.path.join(locked, "model")))
    assert code == 2
    err = capsys.readouterr().err
    assert "locked/model' is not writable" in err and "Permission denied" in err
