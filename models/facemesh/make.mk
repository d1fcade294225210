# facemesh: import MediaPipe's face landmark tflite into Keras (no training), calibrate on face crops
# from FACEMESH_DATA_DIR (a folder of face photos), evaluate int8 vs MediaPipe's float model.
FACEMESH_DATA_DIR ?= $(if $(ZOO_SHARED_DIR),$(ZOO_SHARED_DIR)/data/faces)
facemesh_data_dir = $(or $(FACEMESH_DATA_DIR),$(error facemesh needs face photos: set FACEMESH_DATA_DIR=<folder> (e.g. ../shared/data/faces) or ZOO_SHARED_DIR))
facemesh_DATA_ARGS  ?= --data-dir $(facemesh_data_dir)
facemesh_QUANT_ARGS ?= --data-dir $(facemesh_data_dir)
facemesh_EVAL_ARGS  ?= --data-dir $(facemesh_data_dir) --png $(BUILD)/facemesh/landmarks.png
