#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned lock plus this package (editable, extras [all]).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv

find_python310() {
  local candidates=(python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.10.*/bin/python3.10)
  fi
  candidates+=("$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  for p in "${candidates[@]}"; do
    # pyenv shims exist even when the version is not selected, so run it to be sure.
    if "$p" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
      echo "$p"; return 0
    fi
  done
  return 1
}

if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
  PY=$(find_python310) || {
    echo "error: Python 3.10 not found (tried python3.10, \$(pyenv root)/versions/3.10.*, /usr/bin/python3.10)." >&2
    echo "fix: install it, e.g. 'pyenv install 3.10.13', then run make again." >&2
    exit 1
  }
  echo "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
UV_VERSION=$(sed -n 's/^uv==//p' requirements/lock.txt)
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q "uv $UV_VERSION"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
"$VENV/bin/uv" pip sync --quiet --python "$VENV/bin/python" requirements/lock.txt
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e ".[all]"
