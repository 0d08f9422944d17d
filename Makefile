# The README's two commands: `make demo` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# BM3D / BM4D are closed binaries under a non-commercial licence; `make WITH_BM=0 ...` leaves them out.
WITH_BM ?= 1
# The web UI (gradio) and its browser tests (Playwright + Debian chromium); `make WITH_UI=0 ...` leaves them out.
WITH_UI ?= 1

.PHONY: setup data browser demo test bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch lies on this machine's disk; a plain `torch` would pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	if [ "$(WITH_BM)" = "1" ]; then $(PY) -m pip install -q -e '.[bm]' || echo "NOTE: bm3d/bm4d could not be installed; the bench will name them as missing."; fi
	if [ "$(WITH_UI)" = "1" ]; then $(PY) -m pip install -q -e '.[ui-test]' || echo "NOTE: gradio/playwright could not be installed: \`mrigan ui\` is unavailable and its tests are skipped."; fi
	touch $@

setup: $(VENV)/.installed data browser

# Colin27 (1 mm and 0.5 mm) and inia19 come from Debian's mricron-data; MNI152 comes with nilearn.
data:
	@if [ -f /usr/share/mricron/templates/ch2.nii.gz ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mricron-data >/dev/null) \
	  || echo "NOTE: apt-get could not install mricron-data: Colin27 and inia19 are unavailable; tests that need them are skipped."; \
	else \
	  echo "NOTE: apt-get is not usable here (not root or not Debian): install the Debian package mricron-data by hand for Colin27 and inia19; tests that need them are skipped."; \
	fi

# Headless Chromium for the web UI's browser tests (Playwright drives /usr/bin/chromium; nothing is downloaded).
browser:
	@if [ "$(WITH_UI)" != "1" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "NOTE: apt-get could not install chromium: the web UI's browser tests are skipped."; \
	else \
	  echo "NOTE: apt-get is not usable here (not root or not Debian): install the Debian package chromium by hand for the web UI's browser tests; they are skipped."; \
	fi

demo: setup
	$(PY) -m mrigan.demo

test: setup
	$(PY) -m pytest -q -n 2 -m "not slow"

bench: setup
	$(VENV)/bin/mrigan bench denoise && $(VENV)/bin/mrigan bench inpaint && $(VENV)/bin/mrigan bench sr

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
