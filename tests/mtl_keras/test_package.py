import os
import subprocess
import sys

import pytest


def run_python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300)


def test_import_sets_legacy_keras_before_tensorflow():
    result = run_python("import mtl_keras, tensorflow as tf; print(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")


def test_import_fails_clearly_when_keras_3_is_already_active():
    result = run_python("import tensorflow as tf; tf.keras.layers; import mtl_keras", TF_USE_LEGACY_KERAS="0")
    assert result.returncode != 0
    assert "mtl_keras needs Keras 2 (tf_keras)" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr


def test_import_does_not_load_tensorflow():
    result = run_python("import sys, mtl_keras, mtl_keras.cli; print('tensorflow' in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr
