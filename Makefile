# Two commands do everything on a fresh machine:
#   make run    the whole pipeline on the bundled sample photos
#   make test   the test suite
# Both first build .venv from the lock file of the stack this machine can run:
#   current  TFX 1.21 on Python 3.13, requirements.lock         (glibc 2.39 and newer)
#   legacy   TFX 1.16 on Python 3.10, requirements-legacy.lock  (older glibc, e.g. Debian 12)
# TFX 1.21's ml-metadata and TFDV wheels are built for glibc 2.39 only, hence the
# choice; `make STACK=legacy ...` overrides it. pip's own output goes to
# .venv/pip.log and is shown only when an install fails.

VENV   ?= .venv
PY     := $(VENV)/bin/python
PIPLOG := $(VENV)/pip.log
export TF_USE_LEGACY_KERAS := 1
export PYTHONWARNINGS := ignore::FutureWarning,ignore::DeprecationWarning

GLIBC := $(shell getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $$2}')
GLIBC_OK := $(shell printf '%s\n2.39\n' "$(GLIBC)" | sort -V | head -n1 | grep -qx 2.39 && echo yes)
ifeq ($(GLIBC_OK),yes)
STACK ?= current
WHY   := glibc $(GLIBC) is 2.39 or newer
else
STACK ?= legacy
WHY   := glibc $(GLIBC) is older than the 2.39 that TFX 1.21's ml-metadata and TFDV wheels need
endif
ifeq ($(STACK),current)
PYVER := 3.13
LOCK  := requirements.lock
TFX   := 1.21
else ifeq ($(STACK),legacy)
PYVER := 3.10
LOCK  := requirements-legacy.lock
TFX   := 1.16
else
$(error STACK must be current or legacy, not $(STACK))
endif
ifneq ($(origin STACK),file)
WHY   := STACK=$(STACK) was given
endif
# pyenv's python3.10 is selected by .python-version inside the repo; Debian 13's
# python3.13 is /usr/bin/python3.13.
PYTHON ?= python$(PYVER)
STAMP  := $(VENV)/.installed-$(STACK)

.PHONY: run test lint clean stack bench-peers flink-jars

stack:
	@echo "stack: $(STACK) (TFX $(TFX), Python $(PYVER), $(LOCK)): $(WHY)"

# Debian's Python 3.13 with venv and headers (pyfarmhash builds from source), when
# the current stack is chosen and it is missing (needs root or password-less sudo).
PY_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev build-essential

$(STAMP): $(LOCK) setup.py pyproject.toml
	@echo "stack: $(STACK) (TFX $(TFX), Python $(PYVER), $(LOCK)): $(WHY)"
	@if [ "$(STACK)" = current ] && ! $(PYTHON) -c 'import venv, ensurepip' > /dev/null 2>&1; then \
	  echo "Installing Debian's Python $(PYVER) with venv..."; \
	  ( if [ "$$(id -u)" -eq 0 ]; then sh -c '$(PY_INSTALL)'; else sudo -n sh -c '$(PY_INSTALL)'; fi ) > /dev/null 2>&1 \
	  || { echo "could not install python3-venv: install Python $(PYVER) with venv"; exit 1; }; fi
	@$(PYTHON) -c 'import sys; want = "$(PYVER)"; have = "%d.%d" % sys.version_info[:2]; assert have == want, f"$(LOCK) is for Python {want}, $(PYTHON) is {have}"' \
	  || { echo "$(LOCK) needs Python $(PYVER) as $(PYTHON)"; exit 1; }
	@test -x $(PY) && $(PY) -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(PYVER)"' 2>/dev/null \
	  || { rm -rf $(VENV)/* $(VENV)/.installed*; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the locked dependencies into $(VENV) (about 5 minutes the first time)..."
	@( $(PY) -m pip install --upgrade pip==24.3.1 \
	   && $(PY) -m pip install -r $(LOCK) \
	   && $(PY) -m pip install --no-deps --no-build-isolation -e . \
	   && $(PY) -m pip check ) > $(PIPLOG) 2>&1 \
	 || { cat $(PIPLOG); echo "pip failed; its output is above and in $(PIPLOG)"; exit 1; }
	@rm -f $(VENV)/.installed*; touch $(STAMP)

run: $(STAMP)
	@$(PY) -m pipeline run $(ARGS)

# The report test drives Debian's chromium (a browser download by Playwright fails
# offline); install it when it is missing (needs root or password-less sudo).
CHROMIUM_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The jars of the Flink tests (tests/helpers/flink_cluster.py): a Flink 1.19 session
# cluster and Beam's Flink job server, as flink/pom.xml pins them, fetched with Maven
# into .flink/lib and checked against flink/jars.sha256; flink/jars.py then writes the
# job server's launcher, .flink/beam-flink-job-server.jar (--flink_job_server_jar).
FLINK_DIR := .flink
FLINK_LAUNCHER := $(FLINK_DIR)/beam-flink-job-server.jar
flink-jars: $(FLINK_LAUNCHER)

$(FLINK_LAUNCHER): flink/pom.xml flink/jars.sha256 flink/jars.py
	@command -v mvn > /dev/null && command -v java > /dev/null \
	  || { echo "make flink-jars needs Maven (mvn) and Java 17; inside scripts/debian13.sh, run it on the host first"; exit 1; }
	@rm -rf $(FLINK_DIR)/lib && mkdir -p $(FLINK_DIR)
	@mvn -B -q --strict-checksums -f flink/pom.xml dependency:copy-dependencies \
	  -DoutputDirectory=$(CURDIR)/$(FLINK_DIR)/lib > $(FLINK_DIR)/mvn.log 2>&1 \
	  || { cat $(FLINK_DIR)/mvn.log; echo "mvn failed; its output is above and in $(FLINK_DIR)/mvn.log"; exit 1; }
	@python3 flink/jars.py $(FLINK_DIR) > /dev/null

test: $(STAMP) $(FLINK_LAUNCHER)
	@echo "stack: $(STACK) (TFX $(TFX), Python $(PYVER)): testing"
	@command -v chromium > /dev/null || { echo "Installing Debian's chromium for the report test..."; \
	  ( if [ "$$(id -u)" -eq 0 ]; then sh -c '$(CHROMIUM_INSTALL)'; else sudo -n sh -c '$(CHROMIUM_INSTALL)'; fi ) \
	    > $(VENV)/apt.log 2>&1 || { cat $(VENV)/apt.log; exit 1; }; }
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest -q -p no:warnings tests $(ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .

clean:
	rm -rf out

# Our augmentation pass beside albumentations' (benchmarks/bench_peers.py). The peers run
# from .venv-peers, a venv of their own (requirements-peers.lock), so the product's
# lock never grows; ours from .venv. One peers venv per stack (.venv-peers-legacy on
# the host, .venv-peers-current in the Debian 13 root), so the two never overwrite
# each other in one checkout; results in out-bench/peers-$(STACK).*.
PEERS_DATA ?= ../shared/data/flower_photos.tgz
PEERS_VENV ?= .venv-peers-$(STACK)
$(PEERS_VENV)/.installed: requirements-peers.lock
	@$(PEERS_VENV)/bin/python -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(PYVER)"' 2>/dev/null \
	  || { rm -rf $(PEERS_VENV); $(PYTHON) -m venv $(PEERS_VENV); }
	@$(PEERS_VENV)/bin/python -m pip install -q -r requirements-peers.lock > $(PEERS_VENV)/pip.log 2>&1 \
	  || { cat $(PEERS_VENV)/pip.log; exit 1; }
	@touch $@

bench-peers: $(STAMP) $(PEERS_VENV)/.installed
	@mkdir -p out-bench
	@$(PY) benchmarks/bench_peers.py --data $(PEERS_DATA) --output out-bench/peers-$(STACK).json \
	  --markdown out-bench/peers-$(STACK).md --ours default,values --peers-python $(PEERS_VENV)/bin/python $(ARGS)
