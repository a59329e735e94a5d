# Two commands do everything on a fresh machine:
#   make run    the whole pipeline on the bundled sample photos
#   make test   the test suite
# Both first build .venv from requirements.lock (Python 3.10 via .python-version).
# pip's own output goes to .venv/pip.log and is shown only when an install fails.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIPLOG := $(VENV)/pip.log
export TF_USE_LEGACY_KERAS := 1
export PYTHONWARNINGS := ignore::FutureWarning,ignore::DeprecationWarning

.PHONY: run test lint clean

$(STAMP): requirements.lock setup.py pyproject.toml
	@python -c 'import sys; want = open(".python-version").read().strip(); have = "%d.%d" % sys.version_info[:2]; assert have == want, f"the lock file is for Python {want} (.python-version), not {have}: install it with pyenv"'
	@test -d $(VENV) || python -m venv $(VENV)
	@echo "Installing the locked dependencies into $(VENV) (about 5 minutes the first time)..."
	@( $(PY) -m pip install --upgrade pip==24.3.1 \
	   && $(PY) -m pip install -r requirements.lock \
	   && $(PY) -m pip install --no-deps --no-build-isolation -e . ) > $(PIPLOG) 2>&1 \
	 || { cat $(PIPLOG); echo "pip failed; its output is above and in $(PIPLOG)"; exit 1; }
	@touch $(STAMP)

run: $(STAMP)
	@$(PY) -m pipeline run $(ARGS)

# The report test drives Debian's chromium (a browser download by Playwright fails
# offline); install it when it is missing (needs root or password-less sudo).
CHROMIUM_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP)
	@command -v chromium > /dev/null || { echo "Installing Debian's chromium for the report test..."; \
	  ( if [ "$$(id -u)" -eq 0 ]; then sh -c '$(CHROMIUM_INSTALL)'; else sudo -n sh -c '$(CHROMIUM_INSTALL)'; fi ) \
	    > $(VENV)/apt.log 2>&1 || { cat $(VENV)/apt.log; exit 1; }; }
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest -q -p no:warnings tests $(ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .

clean:
	rm -rf out
