#!/usr/bin/env bash
# The Debian packages the project drives for real, installed when missing and this process
# may (root and apt-get); otherwise one line says what to install. With no argument: what
# the test suite needs (Chromium for the MLflow UI browser test, PostgreSQL for the team
# stack, a Java runtime for Spark); with arguments, only those
# (`tooling/system_packages.sh postgresql` for make team-up).
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(chromium postgresql java)

missing=()
for package in "${wanted[@]}"; do
    case "$package" in
        chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver) ;;
        postgresql)
            compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
                || command -v initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
        java) command -v java >/dev/null 2>&1 || missing+=(default-jre-headless) ;;
        *) echo "system_packages.sh: unknown package $package" >&2; exit 2 ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "needed Debian packages are not installed and cannot be installed without root:" \
     "run \`sudo apt-get install ${missing[*]}\`, then try again." >&2
exit 1
