"""The export side: SavedModel with TF Serving signatures (exporter, signatures), warmup records, models.config."""
