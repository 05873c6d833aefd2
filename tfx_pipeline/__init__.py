"""The TFX pipeline: create_pipeline, custom components, the Trainer run_fn, local and Vertex runners."""

import mtl_keras  # noqa: F401,E402  (sets TF_USE_LEGACY_KERAS before any module here imports TensorFlow)
