"""Your own model to the Efinix accelerator: a `.keras`/`.h5` file, a TensorFlow SavedModel, an ONNX
export (PyTorch) or a Darknet cfg + weights becomes a full-int8 `.tflite` with the zoo's checks,
report, deployment kit and Efinix generator output (`python -m common.convert --help`)."""
