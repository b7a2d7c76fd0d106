# make run: install on first use, migrate, seed the demo event, serve it with its worker.
# make test: the whole test suite (TRACKER_TEST_DATABASE_URL picks the database), then
# the unit tests of the browser code (Node's test runner).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed
PO := $(wildcard tracker/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

NODE_STAMP := node_modules/.installed

.PHONY: install run test test-js lint lint-js format translations extract-messages bench

install: $(STAMP) $(MO)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,redis]'
	@touch $(STAMP)

# Compiled catalogues are build products: made here, never committed.
%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

translations: $(MO)

# Keywords beyond babel's defaults (_, gettext, ngettext, pgettext, ...); tests/test_i18n.py
# extracts with the same list. Babel skips folders starting with "_" unless told
# otherwise, which would miss templates/_macros/.
BABEL_KEYWORDS := -k _l -k lazy_gettext -k _ln:1,2 -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --ignore-dirs='.* __pycache__' \
		--add-comments=TRANSLATORS: --project=tracker --sort-by-file \
		-o tracker/translations/messages.pot .
	$(BIN)/pybabel update -i tracker/translations/messages.pot -d tracker/translations --no-fuzzy-matching

run: install
	$(BIN)/tracker db upgrade
	$(BIN)/tracker demo
	@echo "tracker is served on http://$(HOST):$(PORT)/  (demo event: http://$(HOST):$(PORT)/events/bercy-2012)"
	@# The worker (e-mails, background jobs) beside the web server, stopped with it.
	export TRACKER_BASE_URL="$${TRACKER_BASE_URL:-http://$(HOST):$(PORT)}"; \
	$(BIN)/tracker worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/tracker run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) test-js

# The browser code's logic (queue, snapshot, retries): plain ES modules, no package needed.
# Without Node they are skipped with a warning, unless TRACKER_REQUIRE_NODE=1 (CI).
test-js:
	@if command -v node >/dev/null 2>&1; then node --test tests/js/*.test.js; \
	elif [ "$${TRACKER_REQUIRE_NODE:-}" = 1 ]; then echo "node is needed (apt-get install nodejs)" >&2; exit 1; \
	else echo "warning: node not found, the browser code's unit tests (tests/js) were not run" >&2; fi

# ESLint and its configuration come from the npm registry, pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

lint: $(STAMP) lint-js
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint-js: $(NODE_STAMP)
	npx --no-install eslint tracker/static/js tests/js eslint.config.js

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
