"""The server side: one version (Servable), versions of many models (ModelManager), TF Serving's REST and gRPC APIs."""
