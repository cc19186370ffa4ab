# Two commands do all the set-up on a fresh machine:
#   make book   # venv + install + execute every walkthrough + build site/
#   make test   # venv + install + pytest tests/ walkthroughs/
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install book test test-fast notebooks lab serve demo bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: $(STAMP)
	$(PY) tools/build_book.py

test: $(STAMP)
	$(PY) -m pytest tests/ walkthroughs/

test-fast: $(STAMP)
	$(PY) -m pytest tests/ -m "not slow and not browser"

notebooks: $(STAMP)
	$(PY) tools/build_book.py --notebooks-only

lab: $(STAMP)
	$(PY) -m pip install --quiet -r requirements-lab.txt
	mkdir -p build/lab-settings && cp -rn tools/jupyterlab/user-settings/. build/lab-settings/
	cd walkthroughs && JUPYTERLAB_SETTINGS_DIR=../build/lab-settings ../$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser $$([ "$$(id -u)" = 0 ] && echo --allow-root)

serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory site 8000

demo: $(STAMP)
	$(PY) -m glow_tts demo --out out/demo

clean:
	rm -rf site chapters/walkthroughs chapters/claims.md .pytest_cache
