"""Benchmarks of mtl-ads: the debiasing benchmark (`benchmarks.bias`) and speed/latency scripts (JSON out)."""

import mtl_keras  # noqa: F401,E402  (sets TF_USE_LEGACY_KERAS before any module here imports TensorFlow)
