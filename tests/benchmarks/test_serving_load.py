"""benchmarks/serving_load.py end to end, briefly: a real `mtl-ads serve` under a few clients, 0 errors."""
import json

import pytest


@pytest.fixture(scope="module")
def serving_load():
    from benchmarks import serving_load as module

    return module


def test_short_run_writes_every_key_and_has_no_errors(serving_load, tmp_path):
    out = tmp_path / "load.json"
    assert serving_load.main(["--out", str(out), "--clients", "4", "--seconds", "2", "--candidates", "100"]) == 0
    report = json.loads(out.read_text())
    assert {"clients", "seconds", "candidates", "machine", "results"} <= set(report)
    assert (report["clients"], report["seconds"], report["candidates"]) == (4, 2, 100)
    assert set(report["results"]) == {"rest", "grpc"}
    for protocol, result in report["results"].items():
        assert set(result) == {"requests", "ok", "errors", "error_samples", "req_per_s", "candidates_per_s",
                               "p50_ms", "p99_ms", "max_ms"}
        assert result["errors"] == 0, (protocol, result["error_samples"])
        assert result["ok"] == result["requests"] > 0
        assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
        assert result["req_per_s"] == pytest.approx(result["ok"] / 2, abs=0.1)


def test_arguments_are_checked(serving_load, tmp_path):
    with pytest.raises(SystemExit, match="--protocols"):
        serving_load.main(["--out", str(tmp_path / "x.json"), "--protocols", "http3"])
    with pytest.raises(SystemExit, match="--clients"):
        serving_load.main(["--out", str(tmp_path / "x.json"), "--clients", "0"])
