"""TF-Serving-ready exports and a local server speaking TF Serving's REST and gRPC APIs.

Public API (import the modules directly; this package imports nothing heavy):
  serving.export.export_serving_model(model, feature_spec, base_dir, ...) -> "<base>/<version>"
  serving.model_config.ModelEntry, write_models_config, read_models_config
  serving.local_server.LocalModelServer(entries, rest_port, grpc_port, ...)
  serving.rest_client.RestClient / serving.grpc_client.GrpcClient
  serving.servable.Servable (one version via the TF1 session loader), serving.errors.ServingError
CLI: `mtl-ads serve`, `mtl-ads predict` (serving/cli.py).
"""
