"""tf.Transform preprocessing built from a FeatureSpec (see transform.preprocessing)."""
