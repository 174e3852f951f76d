#!/usr/bin/env bash
# Refresh the lock files of requirements/ from pyproject.toml (details in scripts/lock.py):
#
#   bash scripts/lock.sh             # add, drop or move only what pyproject.toml's changes need
#   bash scripts/lock.sh --upgrade   # every package to the newest version pyproject.toml allows
#   bash scripts/lock.sh --check     # offline: do the locks still match pyproject.toml? (CI runs this)
#
# Compiling needs the venv of scripts/setup.sh and PyPI (or the index in UV_DEFAULT_INDEX); a pinned
# uv is installed into .venv the first time. Commit requirements/ afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: run bash scripts/setup.sh first" >&2; exit 2; }

case "${1:-}" in
  --check) exec "$PY" scripts/lock.py check ;;
  ""|--upgrade) ;;
  *) echo "usage: scripts/lock.sh [--upgrade | --check]" >&2; exit 2 ;;
esac

if [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "==> installing uv $UV_VERSION into .venv"
  .venv/bin/pip install --quiet "uv==$UV_VERSION"
fi
UV=.venv/bin/uv exec "$PY" scripts/lock.py compile "$@"
