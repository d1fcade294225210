"""MediaPipe face landmark (192x192x3 -> 468 3D landmarks + face flag), rebuilt in Keras, int8."""
