"""Clients of TF Serving's REST and gRPC predict APIs (work against TF Serving or the local server)."""
