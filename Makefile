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
STEP    = ZOO_MAKE_TARGET='$@' $(PY) -m
# Make variables reach the shell single-quoted, so that no character of a value is interpreted:
# $(call arg,VAR) passes the value as one argument, $(call args,VAR) each of its words as one.
arg  = '$(subst ','\'',$($(1)))'
args = $(foreach w,$($(1)),'$(subst ','\'',$(w))')
# Paths Make must carry as one word are refused up front, in one line (`check-paths`): a space splits
# a target name or an argument, and BUILD is part of rule lines, where ; : = % # , end or change them.
# The `python -m` steps take any path as an option.
CHECKED_GOALS = $(filter-out help venv test test-fast clean,$(or $(MAKECMDGOALS),help))
comma := ,
hash  := \#
BUILD_BAD_CHARS := ; : = % ' " ` & | < > ( ) * ? [ ] { } ! $$ $(comma) $(hash)
has_space = $(word 2,x$($(1))x)
space_error = $(error $(1)="$($(1))" has a space: Make cannot carry it in a path; use a path without spaces \
  (or run the python -m steps, which take any path))
ifneq ($(CHECKED_GOALS),)
$(foreach v,ZOO_SHARED_DIR BUILD,$(if $(call has_space,$(v)),$(call space_error,$(v))))
$(foreach c,$(BUILD_BAD_CHARS),$(if $(findstring $(c),$(BUILD)),$(error BUILD="$(BUILD)" holds "$(c)": \
  Make cannot use it in a target path; use letters, digits and . _ - / + @ ~)))
endif
-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d)

# Efinix TinyML Generator step (`make <model>.efinix`): the analyzer binary and the GUI's options.
EFINIX_TFLITE_BIN   ?=
EFINIX_AXI_DW       ?= 128
EFINIX_IN_PARALLEL  ?= 8
EFINIX_OUT_PARALLEL ?= 4
EFINIX_CORE         ?= 0
EFINIX_MODES        ?=
EFINIX_DESIGN = --analyzer $(call arg,EFINIX_TFLITE_BIN) --axi-dw $(call arg,EFINIX_AXI_DW) \
	--in-parallel $(call arg,EFINIX_IN_PARALLEL) --out-parallel $(call arg,EFINIX_OUT_PARALLEL) --modes $(call arg,EFINIX_MODES)
EFINIX_ARGS = $(EFINIX_DESIGN) --core $(call arg,EFINIX_CORE)
# `make efinix-multicore CORES="yolo facemesh facemesh"`: one accelerator core per model (1 to 4; a
# model may run on two cores), as the GUI's MULTICORE mode writes them, into build/efinix_multicore/.
CORES ?=
ifeq ($(strip $(EFINIX_TFLITE_BIN)),)
ifneq ($(filter %.efinix efinix-multicore,$(MAKECMDGOALS)),)
$(error EFINIX_TFLITE_BIN is not set: point it at the Efinix TinyML Generator's analyzer (tools/tinyml_generator/bin/tflite))
endif
endif

.DEFAULT_GOAL := help
.PHONY: help venv test test-fast all report clean convert custom efinix-multicore $(MODELS:%=%.tflite) $(MODELS:%=%.cc) $(MODELS:%=%.efinix) $(MODELS:%=clean-%)

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

# PYTEST_ARGS goes to pytest through PYTEST_ADDOPTS (pytest splits it like a shell, without running one).
# Tests run in TEST_WORKERS processes (pytest-xdist; one per core by default, 0 = in this process),
# one test file per process so a file's module fixtures (one model build) run once.
export PYTEST_ARGS
TEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)
test: $(STAMP) ## run all tests, including the slow end-to-end quality checks (TEST_WORKERS=0: one process)
	PYTEST_ADDOPTS="$${PYTEST_ADDOPTS:-} $$PYTEST_ARGS" $(PY) -m pytest $(PYTEST_PARALLEL)

test-fast: $(STAMP) ## run the tests without the slow end-to-end checks
	PYTEST_ADDOPTS="$${PYTEST_ADDOPTS:-} $$PYTEST_ARGS" $(PY) -m pytest $(PYTEST_PARALLEL) -m "not slow"

all: $(MODELS:%=%.tflite) $(MODELS:%=%.cc) $(if $(strip $(EFINIX_TFLITE_BIN)),$(MODELS:%=%.efinix)) ## build every model, its deployment kit (and Efinix generator output)
	$(if $(strip $(EFINIX_TFLITE_BIN)),,@echo "note: EFINIX_TFLITE_BIN is not set; skipping the Efinix generator step (make <model>.efinix)")

report: $(BUILD)/REPORT.md ## build/REPORT.md: the zoo table with measured numbers and plots

# Generator defines are read when present; with the analyzer configured they are (re)made first.
$(BUILD)/REPORT.md: $(foreach m,$(MODELS),$(BUILD)/$(m)/kit/$(m)_model_data.cc) $(wildcard $(BUILD)/*/efinix/tinyml_core*_define.v) \
		$(call DEPS,$(BUILD)/REPORT.md,*) | $(STAMP) $(if $(strip $(EFINIX_TFLITE_BIN)),$(MODELS:%=%.efinix))
	$(STEP) common.pipeline.zoo_report --build '$(BUILD)' --out '$@' $(MODELS)

efinix-multicore: $(foreach m,$(sort $(CORES)),$(BUILD)/$(m)/report.json) | $(STAMP) ## CORES="m1 m2 ..." (1-4): one define file per core + summed resources
	$(PY) -m common.deploy.efinix_generator --multicore $(foreach m,$(CORES),'$(m)=$(BUILD)/$(m)/model.tflite') \
		--out '$(BUILD)/efinix_multicore' $(EFINIX_DESIGN)

# Your own model through the same checks, report, kit and generator step (python -m common.convert --help).
convert: | $(STAMP) ## your model: MODEL=file DATA=folder NAME=name [CONVERT_ARGS="--mean 0 --std 1"] -> build/NAME/
	$(if $(and $(MODEL),$(DATA),$(NAME)),,$(error make convert needs MODEL=<model file> DATA=<data folder> NAME=<name>))
	$(PY) -m common.convert --model $(call arg,MODEL) --data $(call arg,DATA) --name $(call arg,NAME) \
		--build '$(BUILD)' $(call args,CONVERT_ARGS)

# Your own data trained to a model of the zoo's kinds (python -m common.custom --help).
custom: | $(STAMP) ## your data: KIND=model NAME=name DATA=folder [ARGS="--init pretrained --epochs 30"] -> build/NAME/
	$(if $(and $(KIND),$(NAME),$(DATA)),,$(error make custom needs KIND=<model> NAME=<name> DATA=<data folder>))
	$(PY) -m common.custom --kind $(call arg,KIND) --name $(call arg,NAME) --data $(call arg,DATA) \
		--build '$(BUILD)' -- $(call args,ARGS)

clean: ## remove build/ (keeps .venv)
	rm -rf '$(BUILD)'

# ---- per-model pipeline -----------------------------------------------------------------
# Each model directory follows the same CLI contract; <model>_*_ARGS variables (models/<m>/make.mk) adjust it.
#   data.json    python -m models.<m>.data --out ...            (checks/prepares the dataset)
#   model.keras  python -m models.<m>.train --out ... --workdir ... (train or import weights)
#   model.tflite python -m models.<m>.quantize --model ... --out ... (the recipe's calibration and passes)
#   report.json  python -m models.<m>.evaluate --model <tflite> --float-model <keras> --report ... --plots-dir ...

ifneq ($(filter efinix-multicore,$(MAKECMDGOALS)),)
$(if $(strip $(CORES)),,$(error efinix-multicore needs CORES="model ..." (1 to 4 of: $(MODELS))))
$(if $(filter-out $(MODELS),$(CORES)),$(error CORES: unknown model(s) $(filter-out $(MODELS),$(CORES)) (models: $(MODELS))))
endif

# Per-model settings (<model>_DATA_ARGS, _TRAIN_ARGS, _QUANT_ARGS, _EVAL_ARGS, extra rules).
include $(wildcard models/*/make.mk)
ifneq ($(CHECKED_GOALS),)
$(foreach v,$(PATH_VARS),$(if $(call has_space,$(v)),$(call space_error,$(v))))
endif


define MODEL_RULES
$(BUILD)/$(1)/data.json: $(call DEPS,$(BUILD)/$(1)/data.json,$(1)) | $(STAMP)
	$$(STEP) models.$(1).data --out '$$@' $$(call args,$(1)_DATA_ARGS)

$(BUILD)/$(1)/model.keras: $(BUILD)/$(1)/data.json $(call DEPS,$(BUILD)/$(1)/model.keras,$(1)) | $(STAMP)
	$$(STEP) models.$(1).train --out '$$@' --workdir '$(BUILD)/$(1)/train' $$(call args,$(1)_TRAIN_ARGS)

$(BUILD)/$(1)/model.tflite: $(BUILD)/$(1)/model.keras $(call DEPS,$(BUILD)/$(1)/model.tflite,$(1)) | $(STAMP)
	$$(STEP) models.$(1).quantize --model '$$<' --out '$$@' $$(call args,$(1)_QUANT_ARGS)

$(BUILD)/$(1)/report.json: $(BUILD)/$(1)/model.tflite $(BUILD)/$(1)/model.keras \
		$(call DEPS,$(BUILD)/$(1)/report.json,$(1)) | $(STAMP)
	$$(STEP) models.$(1).evaluate --model '$$<' --float-model '$(BUILD)/$(1)/model.keras' --report '$$@' \
		--plots-dir '$(BUILD)/$(1)' $$(call args,$(1)_EVAL_ARGS)

# The kit is a folder of its own, swapped in whole; its dependency file sits beside it.
$(BUILD)/$(1)/kit/$(1)_model_data.cc: $(BUILD)/$(1)/report.json $(call DEPS,$(BUILD)/$(1)/kit,$(1)) | $(STAMP)
	ZOO_MAKE_DEPFILE='$(BUILD)/$(1)/kit.d' $$(STEP) common.deploy --tflite '$(BUILD)/$(1)/model.tflite' --name $(1) \
		--out '$(BUILD)/$(1)/kit' --golden '$(BUILD)/$(1)/golden_inputs.npz' --float-model '$(BUILD)/$(1)/model.keras'

$(1).cc: $(BUILD)/$(1)/kit/$(1)_model_data.cc ## C array, golden vectors, accelerator report, profile
	@echo "$(1): $(BUILD)/$(1)/kit/: $(1)_model_data.{cc,h}, quant_$(1)_{input,output}.h, accelerator.md, profile.json"

$(1).efinix: $(BUILD)/$(1)/report.json | $(STAMP) ## Efinix TinyML Generator output: define file + C array
	$(PY) -m common.deploy.efinix_generator --tflite '$(BUILD)/$(1)/model.tflite' --name $(1) \
		--out '$(BUILD)/$(1)/efinix' $$(EFINIX_ARGS)

$(1).tflite: $(BUILD)/$(1)/report.json
	@echo "$(1): $(BUILD)/$(1)/model.tflite (report: $(BUILD)/$(1)/report.json)"

clean-$(1):
	rm -rf '$(BUILD)/$(1)'
endef
$(foreach m,$(MODELS),$(eval $(call MODEL_RULES,$(m))))
