"""Install extras: the wheel's dependency groups, and the model library working with TFX blocked."""
import email
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[1]
PIPELINE_ONLY = {"tfx", "tensorflow-transform", "tensorflow-model-analysis", "apache-beam"}
SERVING_ONLY = {"tensorflow-serving-api", "grpcio"}
# Modules the model library must run without (the pipeline and serving extras, and our other packages).
BLOCKED = ("tfx", "tfx_bsl", "tensorflow_transform", "tensorflow_model_analysis", "apache_beam",
           "tensorflow_data_validation", "ml_metadata", "tensorflow_serving", "serving", "tfx_pipeline",
           "transform", "benchmarks")


def _canonical(name):
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    """METADATA of the wheel, built by setuptools' PEP 517 hook (what pip runs)."""
    out = tmp_path_factory.mktemp("meta")
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    dist_info = out / result.stdout.strip().splitlines()[-1]
    message = email.message_from_string((dist_info / "METADATA").read_text())
    groups = {}
    for line in message.get_all("Requires-Dist"):
        requirement = Requirement(line)
        extra = None
        if requirement.marker is not None:
            extra = next(e for e in ("pipeline", "serving", "vertex", "all", "test")
                         if requirement.marker.evaluate({"extra": e}))
        groups.setdefault(extra, set()).add(_canonical(requirement.name))
    return message, groups


def test_the_library_installs_without_tfx_and_the_extras_add_the_rest(metadata):
    message, groups = metadata
    assert set(message.get_all("Provides-Extra")) >= {"pipeline", "serving", "all"}
    assert {"tensorflow", "tf-keras", "tensorflow-recommenders", "lifelines", "pandas"} <= groups[None]
    assert not groups[None] & (PIPELINE_ONLY | SERVING_ONLY)
    assert PIPELINE_ONLY <= groups["pipeline"] and not groups["pipeline"] & SERVING_ONLY
    assert SERVING_ONLY <= groups["serving"] and not groups["serving"] & PIPELINE_ONLY
    assert groups["pipeline"] | groups["serving"] <= groups["all"]


def test_the_lock_pins_every_requirement_of_all(metadata):
    _, groups = metadata
    pinned = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            pinned[_canonical(Requirement(name).name)] = version.strip()
    message, _ = metadata
    for line in message.get_all("Requires-Dist"):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": "all"}):
            continue
        name = _canonical(requirement.name)
        assert name in pinned, f"{name} is not pinned in requirements/lock.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])


def test_the_make_install_uses_all_extras():
    assert '-e ".[all]"' in (REPO / "tools" / "bootstrap.sh").read_text()


BLOCKED_RUN = textwrap.dedent('''
    import importlib.abc, json, sys
    BLOCKED = set(sys.argv[2].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import numpy as np
    from mtl_keras.cli import main
    from mtl_keras.config import ModelConfig

    work = sys.argv[1]
    assert main(["simulate", "--out", f"{work}/data", "--requests", "6000", "--format", "tfrecord"]) == 0
    spec = json.load(open(f"{work}/data/feature_spec.json"))
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         objective="escm2_ips", tower_units=[4], batch_size=256, epochs=1, win_weighting=False)
    open(f"{work}/config.json", "w").write(config.to_json())
    assert main(["train", "--config", f"{work}/config.json", "--data", f"{work}/data", "--out", f"{work}/out",
                 "--verbose", "0"]) == 0
    import tensorflow as tf
    from mtl_keras.data import read_table
    frame = read_table(f"{work}/data").head(32)
    features = {f: tf.constant(frame[f].to_numpy()) for f in config.features.names}
    reloaded = tf.keras.models.load_model(f"{work}/out/saved_model")
    report = {"p_ctr": np.asarray(reloaded(features)["p_ctr"]).ravel().tolist(),
              "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}
    # As installed without the [pipeline] extra: our packages present, TFX and Beam absent.
    BLOCKED -= {"serving", "tfx_pipeline", "transform", "benchmarks"}
    report["pipeline_rc"] = main(["pipeline", "run", "--data", f"{work}/data", "--pipeline-root", f"{work}/p",
                                  "--serving-dir", f"{work}/s"])
    print(json.dumps(report))
''')


def test_simulate_train_and_export_through_mtl_keras_with_tfx_and_serving_blocked(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(BLOCKED_RUN)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(script), str(tmp_path), ",".join(BLOCKED)], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    p_ctr = np.asarray(report["p_ctr"])
    assert p_ctr.shape == (32,) and np.all((p_ctr > 0) & (p_ctr < 1))
    # A subcommand of a missing extra fails with the install line, not a traceback.
    assert report["pipeline_rc"] == 2
    assert "needs the [pipeline] extra" in result.stderr and "pip install 'mtl-ads[pipeline]'" in result.stderr
    assert "Traceback" not in result.stderr



