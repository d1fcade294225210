"""MobileNetV1 (alpha 0.25) person detection on Visual Wake Words, 96x96x1 grayscale input, 2 classes."""
