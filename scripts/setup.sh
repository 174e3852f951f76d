#!/usr/bin/env bash
# Set up sim_platform on a fresh machine: a virtual environment with the package and the locked
# dependencies of requirements/ (base, or test with --test), and with --test everything the test
# suite talks to for real (Azurite from npm; hdf5-tools and docker-compose,
# whose `config` validates docker-compose.yml, chromium for the UI test, postgresql for the backfill
# bench, nginx for the login proxy of the compose profile `auth`, from Debian).
# Idempotent: run it again and it only checks. Used by the README's commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TESTS=1 ;;
    *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
  esac
done

AZURITE_VERSION=3.37.0
PYTHON=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi

# The dependencies come from the lock of this install shape, every file checked against its hash; the
# package itself is then installed editable without dependencies. `scripts/lock.py check` first makes
# sure the locks still match pyproject.toml (CI fails here when they do not; `bash scripts/lock.sh`
# refreshes them).
if [ "$WITH_TESTS" = 1 ]; then SHAPE=test; else SHAPE=base; fi
.venv/bin/python scripts/lock.py check
echo "==> installing requirements/$SHAPE.lock.txt (hashes checked) and sim_platform"
.venv/bin/pip install --quiet --require-hashes -r requirements/build.lock.txt
.venv/bin/pip install --quiet --require-hashes -r "requirements/$SHAPE.lock.txt"
.venv/bin/pip install --quiet --no-deps --no-build-isolation -e .

if [ "$WITH_TESTS" = 1 ]; then
  apt_packages=()
  command -v h5dump >/dev/null || apt_packages+=(hdf5-tools)
  command -v docker-compose >/dev/null || apt_packages+=(docker-compose)
  command -v npm >/dev/null || apt_packages+=(nodejs npm)
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)  # the UI test drives it with Playwright (no playwright install)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)  # the backfill bench runs a private server
  [ -x /usr/sbin/nginx ] || apt_packages+=(nginx)  # the compose login proxy's config is tested with a private nginx
  if [ "${#apt_packages[@]}" -gt 0 ]; then
    echo "==> apt-get install ${apt_packages[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  fi
  if [ ! -x .tools/node_modules/.bin/azurite-blob ] || \
     [ "$(node -p "require('./.tools/node_modules/azurite/package.json').version" 2>/dev/null)" != "$AZURITE_VERSION" ]; then
    echo "==> npm install azurite@$AZURITE_VERSION into .tools/"
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
  fi
fi
echo "==> setup done"
