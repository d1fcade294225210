"""Data: TFDS access, images, audio, items and their identity, calibration samples, published files."""
