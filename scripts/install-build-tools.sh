#!/usr/bin/env bash
# Debian packages the mypyc compile of the parse modules needs (a C compiler and
# the headers of the venv's Python; scripts/build_native.py --missing-packages
# says which are missing), installed only when missing. Without root, sudo or
# apt-get it says so and returns 0: scripts/build_native.py then warns and the
# pure-Python modules are used.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a missing <<<"$(.venv/bin/python scripts/build_native.py --missing-packages)" || true
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo"; else
        echo "install-build-tools: missing ${missing[*]} (no root or sudo to install them)" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-build-tools: missing ${missing[*]} (not a Debian system: install them yourself)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || echo "install-build-tools: could not install ${missing[*]}" >&2
