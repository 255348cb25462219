# make run / make test work on a fresh clone: they create .venv once and reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck bench clean frontend translations

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# make run: demo keys into instance/ (git-ignored), database, example pathways, demo hospital,
# integrator key and pregnancies; then serve on 127.0.0.1:8000 (HOST=, PORT= to change).
HOST ?= 127.0.0.1
PORT ?= 8000
run: $(STAMP)
	$(BIN)/carepath content lint
	$(BIN)/carepath pathway validate examples/pathways $(addprefix --patient ,$(wildcard examples/patients/*.yaml)) $(addprefix --events ,$(wildcard examples/events/*.yaml))
	$(BIN)/carepath dating --lmp 2026-03-02 --us-date 2026-05-01 --us-ga 8+2 --on 2026-06-01
	$(BIN)/carepath pathway dry-run examples/pathways --patient examples/patients/demo-001.yaml --events examples/events/demo-001.yaml
	$(BIN)/carepath demo setup --instance instance --url http://$(HOST):$(PORT)
	CAREPATH_INSTANCE_PATH=$(CURDIR)/instance $(BIN)/carepath serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite in TEST_WORKERS processes (pytest-xdist; each has its own SQLite file and PostgreSQL
# schema): 2 for this 2-core machine. TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2
test: lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS)

# After changing a message of the staff UI: extract, merge into the Chinese catalogue (zh_Hans_CN
# is babel's name for zh_CN), fill in the new msgstr, run it again to compile. The .po and the
# compiled .mo are both committed, so neither pip install nor CI has a build step.
# The medication names (msgctxt medication/<code>) are keyed at run time and cannot be
# extracted: if `update` marks them obsolete (#~), un-comment them (test_sentences fails until then).
I18N := carepath/webapi/common/translations
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k label -k sentence:1c,2 -k meaning:1c,2 --no-location --omit-header -o $(I18N)/messages.pot .
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) -l zh_Hans_CN --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(I18N) -l zh_Hans_CN

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f; done

# The editor's CodeMirror bundle: rebuilt from frontend/ into carepath/webapi/staff/static/editor/
# (committed, so pip and CI never need Node). Needs Node 20 and the npm registry.
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
