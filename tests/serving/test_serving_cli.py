"""`mtl-ads serve` in a subprocess, `mtl-ads predict` against it over REST and gRPC."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.cli import main
from serving_fixtures import keras_predict, sample_rows

ROWS = sample_rows(4, seed=17)


@pytest.fixture(scope="module")
def served(exported):
    base, _ = exported
    cli = os.path.join(os.path.dirname(sys.executable), "mtl-ads")
    proc = subprocess.Popen(
        [cli, "serve", "--model-base-path", base, "--model-name", "ctr", "--rest-port", "0", "--grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines, deadline = [], time.time() + 180
    while time.time() < deadline and not any(line.startswith("gRPC on") for line in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    ports = {line.split()[0]: line.rsplit(":", 1)[1] for line in lines if " on " in line}
    assert set(ports) == {"REST", "gRPC"}, lines
    assert lines[0].startswith("model ctr: serving versions [1]"), lines
    yield proc, ports
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_predict_command_against_the_serve_command(served, model, tmp_path, capsys, protocol):
    _, ports = served
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    port = ports["REST" if protocol == "rest" else "gRPC"]
    code = main(["predict", "--input", str(rows_file), "--model-name", "ctr", "--server", f"127.0.0.1:{port}",
                 "--protocol", protocol, "--batch-size", "3"])
    assert code == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    want = keras_predict(model, ROWS)
    assert len(out) == len(ROWS)
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose([o[key] for o in out], want[key], rtol=1e-6)


def test_predict_command_reports_server_errors(served, tmp_path, capsys):
    _, ports = served
    rows_file = tmp_path / "rows.csv"
    rows_file.write_text("user_id,ad_id\n1,2\n")
    code = main(["predict", "--input", str(rows_file), "--model-name", "ctr", "--server", f"127.0.0.1:{ports['REST']}"])
    assert code == 2
    assert "lacks input(s) ['price']" in capsys.readouterr().err


@pytest.mark.parametrize("protocol,message", [("rest", "Cannot reach 127.0.0.1:1"), ("grpc", "")])
def test_predict_command_with_no_server_is_a_clear_error(tmp_path, capsys, protocol, message):
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text(json.dumps(ROWS[0]) + "\n")
    code = main(["predict", "--input", str(rows_file), "--server", "127.0.0.1:1", "--protocol", protocol])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_serve_stops_cleanly_on_sigterm(served):
    proc, _ = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


def test_serve_argument_errors(capsys):
    assert main(["serve", "--rest-port", "0"]) == 2
    assert "exactly one of --model-base-path or --model-config-file" in capsys.readouterr().err
    assert main(["serve", "--model-base-path", "/nonexistent/dir", "--rest-port", "0", "--grpc-port", "-1"]) == 2
    assert "is not a directory" in capsys.readouterr().err
