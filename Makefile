# Two commands: `make demo` and `make test`. Each sets up everything it needs from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP_SYS := .stamp-system
STAMP_VENV := $(VENV)/.stamp-installed

.PHONY: demo test bench lint typecheck setup system venv translations screenshots package package-test clean

demo: setup
	tools/with-keyring.sh $(PY) -m kiosk demo

# Tests run in parallel worker processes, a test file per worker (fixtures such as the package build stay whole).
TEST_WORKERS ?= 3
test: setup
	tools/with-services.sh $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	tools/with-services.sh $(PY) bench/run_all.py

# Names that frameworks call (Qt, http.server, pytest, pydantic, the Tencent SDK's request fields): the unused-code
# check cannot see those calls. Anything else only Python could call is listed, with its caller, in tools/vulture_allow.py.
VULTURE_FRAMEWORK_NAMES := *Screen,model_config,eventFilter,signum,frame,completed,exc_type,trust_env,isolation_level,PhoneNumberSet,SmsSdkAppId,SignName,TemplateId,TemplateParamSet,SessionContext,pytestmark,keyring_ready,qapp,do_GET,do_POST,do_PUT,do_DELETE,log_message,protocol_version,daemon_threads,close_connection,should_exit,teardown

lint: venv
	$(VENV)/bin/ruff check cunzhan kiosk township tests bench tools
	$(VENV)/bin/ruff format --check cunzhan kiosk township tests bench tools
	$(VENV)/bin/vulture cunzhan kiosk township tests bench tools --min-confidence 60 \
	  --exclude township/migrations,tests/fixtures \
	  --ignore-decorators "@router.*,@app.*,@check,@event.listens_for,@field_validator,@rule,@invariant,@initialize,@pytest.fixture*" \
	  --ignore-names "$(VULTURE_FRAMEWORK_NAMES)"

typecheck: venv
	$(VENV)/bin/mypy cunzhan kiosk township

screenshots: setup
	$(PY) -m kiosk screenshots --out screenshots

setup: system venv translations

# System packages (speech, fonts, Qt's xcb libraries, keyring, PostgreSQL, Chromium): installed when root,
# otherwise named in a clear message by tools/system-packages.sh.
system: $(STAMP_SYS)
$(STAMP_SYS): installers/debian-packages.txt tools/system-packages.sh
	tools/system-packages.sh
	touch $@

venv: $(STAMP_VENV)
$(STAMP_VENV): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[kiosk,township,dev]'
	touch $@

translations: venv
	$(PY) -m cunzhan.i18n compile

package: setup
	$(MAKE) -C installers package

# The packages installed with apt on fresh Debian 12 and 13 (debootstrap chroots, so it runs as root): install,
# doctor, kiosk ready, backend health, remove/purge, upgrade. Not part of `make test`: see docs/install.md for how
# long it takes. Prints package_kiosk_mb, package_township_mb and package_test_s.
package-test: setup
	$(PY) tools/package_test.py

clean:
	rm -rf $(VENV) $(STAMP_SYS) build dist *.egg-info
