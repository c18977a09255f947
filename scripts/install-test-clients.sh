#!/usr/bin/env bash
# Debian packages of the real mail clients the integration tests drive.
set -euo pipefail
# postfix/dovecot: interoperability tests and bench/; chromium: the web pages' browser tests.
packages=(curl mutt fetchmail openssl isync offlineimap3 bsdutils
    postfix dovecot-imapd dovecot-pop3d chromium chromium-driver)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
