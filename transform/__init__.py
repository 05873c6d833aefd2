"""tf.Transform preprocessing built from a FeatureSpec (see transform.preprocessing)."""

import mtl_keras  # noqa: F401,E402  (sets TF_USE_LEGACY_KERAS before any module here imports TensorFlow)
