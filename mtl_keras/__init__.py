"""Multi-task conversion models (CTR, CVR, CTCVR) for online advertising on tf_keras."""
import os
import sys

# Must happen before TensorFlow is imported anywhere: tf.keras then resolves to tf_keras (Keras 2),
# which tensorflow-recommenders, TFX and tf.Transform require.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def _check_keras_version() -> None:
    import tensorflow as tf

    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(
            f"mtl_keras needs Keras 2 (tf_keras) but tf.keras is {tf.keras.__name__!r} (Keras 3). "
            "TensorFlow was imported before mtl_keras with TF_USE_LEGACY_KERAS unset. Fix: set "
            "TF_USE_LEGACY_KERAS=1 in the environment, or import mtl_keras before tensorflow."
        )


# If TensorFlow is not imported yet, the variable above decides and there is nothing to check;
# importing it here would make `import mtl_keras` (and the CLI's start) pay for TF.
if "tensorflow" in sys.modules:
    _check_keras_version()

__version__ = "0.1.0"
