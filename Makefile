# TinyML Model Zoo. `make help` lists the targets.
# Every target creates/refreshes .venv from pyproject.toml by itself (stamp file).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
BUILD  := build
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1

# Models that have a full pipeline in models/<name>/ (data, train, quantize, evaluate).
MODELS := $(sort $(patsubst models/%/recipe.py,%,$(wildcard models/*/recipe.py)))
# What each step's output depends on: every source file its command loaded the last time it ran,
# recorded by the command itself in <target>.d (common/depfile.py, like a C compiler's -MD). Before a
# first run (no .d yet), a target depends on every source file of common/ and of its model.
SOURCES = $(wildcard common/*.py common/*/*.py common/*/*/*.py) $(wildcard models/$(1)/*.py models/$(1)/*.cfg)
DEPS    = $(if $(wildcard $(1).d),,$(call SOURCES,$(2)))
STEP    = ZOO_MAKE_TARGET=$@ $(PY) -m
-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d)

# Efinix TinyML Generator step (`make <model>.efinix`): the analyzer binary and the GUI's options.
EFINIX_TFLITE_BIN   ?=
EFINIX_AXI_DW       ?= 128
EFINIX_IN_PARALLEL  ?= 8
EFINIX_OUT_PARALLEL ?= 4
EFINIX_CORE         ?= 0
EFINIX_MODES        ?=
EFINIX_ARGS = --analyzer "$(EFINIX_TFLITE_BIN)" --axi-dw "$(EFINIX_AXI_DW)" --in-parallel "$(EFINIX_IN_PARALLEL)" \
	--out-parallel "$(EFINIX_OUT_PARALLEL)" --core "$(EFINIX_CORE)" --modes "$(EFINIX_MODES)"
ifeq ($(strip $(EFINIX_TFLITE_BIN)),)
ifneq ($(filter %.efinix,$(MAKECMDGOALS)),)
$(error EFINIX_TFLITE_BIN is not set: point it at the Efinix TinyML Generator's analyzer (tools/tinyml_generator/bin/tflite))
endif
endif

.DEFAULT_GOAL := help
.PHONY: help venv test test-fast all report clean $(MODELS:%=%.tflite) $(MODELS:%=%.cc) $(MODELS:%=%.efinix) $(MODELS:%=clean-%)

help: ## list the targets
	@echo "TinyML Model Zoo -- full-int8 TFLite models for the Efinix TinyML Generator"
	@echo
	@echo "  make <model>.tflite   data -> train/import -> quantize -> validate, into build/<model>/"
	@echo "  make <model>.cc       + C array, golden vectors, accelerator report, profile"
	@echo "  make <model>.efinix   + Efinix TinyML Generator output in build/<model>/efinix/ (needs EFINIX_TFLITE_BIN;"
	@echo "                        options EFINIX_AXI_DW=128 EFINIX_IN_PARALLEL=8 EFINIX_OUT_PARALLEL=4 EFINIX_CORE=0"
	@echo "                        EFINIX_MODES=\"ADD=DISABLE MUL=LITE\")"
	@echo "                        models: $(MODELS)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_%.-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## create/refresh .venv from pyproject.toml

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

test: $(STAMP) ## run all tests, including the slow end-to-end quality checks
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## run the tests without the slow end-to-end checks
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

all: $(MODELS:%=%.tflite) $(MODELS:%=%.cc) $(if $(strip $(EFINIX_TFLITE_BIN)),$(MODELS:%=%.efinix)) ## build every model, its deployment kit (and Efinix generator output)
	$(if $(strip $(EFINIX_TFLITE_BIN)),,@echo "note: EFINIX_TFLITE_BIN is not set; skipping the Efinix generator step (make <model>.efinix)")

report: $(BUILD)/REPORT.md ## build/REPORT.md: the zoo table with measured numbers and plots

# Generator defines are read when present; with the analyzer configured they are (re)made first.
$(BUILD)/REPORT.md: $(foreach m,$(MODELS),$(BUILD)/$(m)/$(m)_model_data.cc) $(wildcard $(BUILD)/*/efinix/tinyml_core*_define.v) \
		$(call DEPS,$(BUILD)/REPORT.md,*) | $(STAMP) $(if $(strip $(EFINIX_TFLITE_BIN)),$(MODELS:%=%.efinix))
	$(STEP) common.pipeline.zoo_report --build $(BUILD) --out $@ $(MODELS)

clean: ## remove build/ (keeps .venv)
	rm -rf $(BUILD)

# ---- per-model pipeline -----------------------------------------------------------------
# Each model directory follows the same CLI contract; <model>_*_ARGS variables (models/<m>/make.mk) adjust it.
#   data.json    python -m models.<m>.data --out ...            (checks/prepares the dataset)
#   model.keras  python -m models.<m>.train --out ... --workdir ... (train or import weights)
#   model.tflite python -m models.<m>.quantize --model ... --out ... (the recipe's calibration and passes)
#   report.json  python -m models.<m>.evaluate --model <tflite> --float-model <keras> --report ... --plots-dir ...

# Per-model settings (<model>_DATA_ARGS, _TRAIN_ARGS, _QUANT_ARGS, _EVAL_ARGS, extra rules).
include $(wildcard models/*/make.mk)

define MODEL_RULES
$(BUILD)/$(1)/data.json: $(call DEPS,$(BUILD)/$(1)/data.json,$(1)) | $(STAMP)
	$$(STEP) models.$(1).data --out $$@ $$($(1)_DATA_ARGS)

$(BUILD)/$(1)/model.keras: $(BUILD)/$(1)/data.json $(call DEPS,$(BUILD)/$(1)/model.keras,$(1)) | $(STAMP)
	$$(STEP) models.$(1).train --out $$@ --workdir $(BUILD)/$(1)/train $$($(1)_TRAIN_ARGS)

$(BUILD)/$(1)/model.tflite: $(BUILD)/$(1)/model.keras $(call DEPS,$(BUILD)/$(1)/model.tflite,$(1)) | $(STAMP)
	$$(STEP) models.$(1).quantize --model $$< --out $$@ $$($(1)_QUANT_ARGS)

$(BUILD)/$(1)/report.json: $(BUILD)/$(1)/model.tflite $(BUILD)/$(1)/model.keras \
		$(call DEPS,$(BUILD)/$(1)/report.json,$(1)) | $(STAMP)
	$$(STEP) models.$(1).evaluate --model $$< --float-model $(BUILD)/$(1)/model.keras --report $$@ \
		--plots-dir $(BUILD)/$(1) $$($(1)_EVAL_ARGS)

$(BUILD)/$(1)/$(1)_model_data.cc: $(BUILD)/$(1)/report.json $(call DEPS,$(BUILD)/$(1)/$(1)_model_data.cc,$(1)) | $(STAMP)
	$$(STEP) common.deploy --tflite $(BUILD)/$(1)/model.tflite --name $(1) --out $(BUILD)/$(1) \
		--golden $(BUILD)/$(1)/golden_inputs.npz --float-model $(BUILD)/$(1)/model.keras

$(1).cc: $(BUILD)/$(1)/$(1)_model_data.cc ## C array, golden vectors, accelerator report, profile
	@echo "$(1): $(BUILD)/$(1)/$(1)_model_data.{cc,h}, quant_$(1)_{input,output}.h, accelerator.md, profile.json"

$(1).efinix: $(BUILD)/$(1)/report.json | $(STAMP) ## Efinix TinyML Generator output: define file + C array
	$(PY) -m common.deploy.efinix_generator --tflite $(BUILD)/$(1)/model.tflite --name $(1) --out $(BUILD)/$(1)/efinix $(EFINIX_ARGS)

$(1).tflite: $(BUILD)/$(1)/report.json
	@echo "$(1): $(BUILD)/$(1)/model.tflite (report: $(BUILD)/$(1)/report.json)"

clean-$(1):
	rm -rf $(BUILD)/$(1)
endef
$(foreach m,$(MODELS),$(eval $(call MODEL_RULES,$(m))))
