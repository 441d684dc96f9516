#!/usr/bin/env bash
# The Debian packages the test suite drives for real: Chromium (the MLflow UI browser test)
# and PostgreSQL (the team-stack tests). Installs what is missing when it can (root and
# apt-get); otherwise stops with one line saying what to install.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the test suite's system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "make test needs Debian packages that are not installed and cannot be installed" \
     "without root: run \`sudo apt-get install ${missing[*]}\`, then make test again." >&2
exit 1
