# Two commands do all the set-up on a fresh machine:
#   make book   # venv + install + execute every walkthrough + build site/
#   make test   # venv + install + pytest tests/ walkthroughs/
PYTHON ?= python3
UV ?= uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock book test test-fast notebooks translations lab serve demo bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate the locks from pyproject.toml (needs uv: pip install uv); uv keeps the versions
# already in a lock where they still fit. See the README, "Dependencies".
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	--find-links /opt/wheels --emit-find-links -c requirements-torch-cpu.txt
lock:
	$(UV) pip compile pyproject.toml --extra test --extra book $(LOCK_FLAGS) -o requirements.txt
	$(UV) pip compile pyproject.toml --extra lab $(LOCK_FLAGS) -c requirements.txt -o requirements-lab.txt

book: $(STAMP)
	$(PY) tools/build_book.py

test: $(STAMP)
	$(PY) -m pytest tests/ walkthroughs/

test-fast: $(STAMP)
	$(PY) -m pytest tests/ -m "not slow and not browser"

notebooks: $(STAMP)
	$(PY) tools/build_book.py --notebooks-only

# The Korean edition's catalogs (po/ko/*.po): take in the English book's changes (new
# paragraphs empty, changed ones fuzzy) and list what needs translating; exits non-zero
# while anything does. See the README, "The Korean edition".
translations: $(STAMP)
	$(PY) tools/i18n.py update

# make lab: the English walkthroughs; make lab EDITION=ko: Korean copies (Korean Markdown
# cells, the same code) written into build/lab-ko/walkthroughs/ from po/ko/ and opened there.
EDITION ?= en
LAB_DIR := $(if $(filter ko,$(EDITION)),build/lab-ko/walkthroughs,walkthroughs)
lab: $(STAMP)
	$(PY) -m pip install --quiet --require-hashes -r requirements-lab.txt
	mkdir -p build/lab-settings && cp -rn tools/jupyterlab/user-settings/. build/lab-settings/
	case "$(EDITION)" in en) ;; ko) $(PY) tools/korean_edition.py --lab build/lab-ko ;; \
	  *) echo "EDITION must be en or ko, not '$(EDITION)'" >&2; exit 2 ;; esac
	cd $(LAB_DIR) && JUPYTERLAB_SETTINGS_DIR=$(CURDIR)/build/lab-settings $(CURDIR)/$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser $$([ "$$(id -u)" = 0 ] && echo --allow-root)

serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory site 8000

demo: $(STAMP)
	$(PY) -m glow_tts demo --out out/demo

clean:
	rm -rf site chapters/walkthroughs chapters/claims.md build/ko-book .pytest_cache
