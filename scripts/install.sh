#!/usr/bin/env bash
# Create .venv and install mailserver into it (with test tools when given "test"),
# then compile the MIME parse modules with mypyc.
# Skips pip when nothing changed since the last install: the stamp file
# .venv/.install-stamp holds a hash of pyproject.toml, the extras and the Python
# version, so `scripts/run` starts in about a second. Set MAILSERVER_REINSTALL=1
# to force a reinstall. The compile step (scripts/build_native.py) is a no-op
# when the compiled modules match the sources; without a C compiler it warns
# and the pure-Python modules are used.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# "native": mypyc (part of mypy) and setuptools, to compile the parse modules.
extra="[native]"
[ "${1:-}" = "test" ] && extra="[test,native]"
stamp=.venv/.install-stamp
digest() { { cat pyproject.toml; echo "extra=$1"; .venv/bin/python -VV; } | sha256sum | cut -d' ' -f1; }
wanted="$(digest "$extra")"

installed() {
    [ -x .venv/bin/mailserver ] && [ -f "$stamp" ] && [ "${MAILSERVER_REINSTALL:-}" != 1 ] || return 1
    grep -qx "$wanted" "$stamp" && return 0
    # A test install also satisfies a plain one (it is a superset).
    [ "$extra" = "[native]" ] && grep -qx "$(digest "[test,native]")" "$stamp"
}

if ! installed; then
    rm -f "$stamp"
    # Quiet: no pip upgrade notice and no setuptools "Editable installation" banner
    # (a BuildBackendWarning, i.e. a UserWarning, printed by the build backend).
    export PYTHONWARNINGS=ignore::UserWarning
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
    echo "$wanted" >"$stamp"
fi
scripts/install-build-tools.sh
.venv/bin/python scripts/build_native.py
