"""TF-Serving-ready exports and a local server speaking TF Serving's REST and gRPC APIs.

Public API (import the modules directly; this package imports nothing heavy):
  serving.export.exporter.export_serving_model(model, feature_spec, base_dir, ...) -> "<base>/<version>"
  serving.export.model_config.ModelEntry, write_models_config, read_models_config
  serving.server.local_server.LocalModelServer(entries, rest_port, grpc_port, ...)
  serving.client.rest_client.RestClient / serving.client.grpc_client.GrpcClient
  serving.server.servable.Servable (one version via the TF1 session loader; check_inputs validates every request)
  serving.server.json_codec (REST JSON <-> numpy), serving.errors.ServingError
CLI: `mtl-ads serve`, `mtl-ads predict` (serving/cli.py).
"""

import mtl_keras  # noqa: F401,E402  (sets TF_USE_LEGACY_KERAS before any module here imports TensorFlow)
