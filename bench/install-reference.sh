#!/usr/bin/env bash
# What bench/compare.py needs on a fresh machine: Debian's Dovecot (IMAP, POP3)
# and Postfix (installed by the same script as the test clients) and, for
# profiling, py-spy in the project's .venv (the `bench` extra).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-test-clients.sh"
if [ -x "$here/.venv/bin/pip" ]; then
    "$here/.venv/bin/pip" install -q -e "$here[bench]"
fi
