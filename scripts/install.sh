#!/usr/bin/env bash
# Create .venv and install mailserver into it (with test tools when given "test").
# Skips pip when nothing changed since the last install: the stamp file
# .venv/.install-stamp holds a hash of pyproject.toml, the extras and the Python
# version, so `scripts/run` starts in about a second. Set MAILSERVER_REINSTALL=1
# to force a reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extra=""
[ "${1:-}" = "test" ] && extra="[test]"
stamp=.venv/.install-stamp
wanted="$( { cat pyproject.toml; echo "extra=$extra"; .venv/bin/python -VV; } | sha256sum | cut -d' ' -f1)"
# A test install also satisfies a plain one (it is a superset).
if [ -x .venv/bin/mailserver ] && [ -f "$stamp" ] && [ "${MAILSERVER_REINSTALL:-}" != 1 ]; then
    if grep -qx "$wanted" "$stamp"; then
        exit 0
    fi
    if [ -z "$extra" ]; then
        tested="$( { cat pyproject.toml; echo "extra=[test]"; .venv/bin/python -VV; } | sha256sum | cut -d' ' -f1)"
        grep -qx "$tested" "$stamp" && exit 0
    fi
fi
rm -f "$stamp"
# Quiet: no pip upgrade notice and no setuptools "Editable installation" banner
# (a BuildBackendWarning, i.e. a UserWarning, printed by the build backend).
export PYTHONWARNINGS=ignore::UserWarning
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
echo "$wanted" >"$stamp"
