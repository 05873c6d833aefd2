"""The TFX pipeline: create_pipeline, custom components, the Trainer run_fn, local and Vertex runners."""
