"""The model graph: Keras layers and model files, the `.tflite` flatbuffer, its runners, the Efinix rules, PTQ."""
