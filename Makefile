# Atelier — the README's two commands live here: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml 2>/dev/null | cut -c1-12)

.PHONY: demo test lint install bench bench-compare clean locale locale-update

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Atelier a besoin de Python 3.11 ou plus récent (trouvé : " + sys.version.split()[0] + ").")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo

# Four test processes on two cores: most tests wait on servers, brokers and browsers (the
# kiosk's, on its one-second polls).
PYTEST_ARGS ?= -n 4

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/scan_api.py
	$(BIN)/python bench/mqtt_ingest.py
	$(BIN)/python bench/agent.py

# The scan and MQTT benchmarks of the commit before the rewrite and of HEAD, side by side:
# make bench-compare COMPARE_ARGS="--rounds 3 --head WORKTREE"
COMPARE_ARGS ?=
bench-compare: $(STAMP)
	$(BIN)/python bench/compare.py $(COMPARE_ARGS)

# The French catalog of Click's words (app/i18n/catalog.py says why): after editing the
# .po, compile it into the .mo that is committed beside it (running Atelier needs no Babel).
LOCALE := app/i18n/locale
locale: $(STAMP)
	$(BIN)/pybabel compile --statistics -D atelier -d $(LOCALE) -l fr

# After a Click upgrade: gather its messages again and merge them into the .po (new ones
# come empty: translate them, then `make locale`).
locale-update: $(STAMP)
	@mkdir -p build
	$(BIN)/pybabel extract --no-location --omit-header -k _ -k N_ -k ngettext:1,2 \
		-o build/atelier.pot "$$($(BIN)/python -c 'import click, os; print(os.path.dirname(click.__file__))')" \
		app/i18n/catalog.py
	$(BIN)/pybabel update --no-fuzzy-matching -w 96 -D atelier -d $(LOCALE) -l fr -i build/atelier.pot

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
