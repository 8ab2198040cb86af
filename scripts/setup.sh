#!/usr/bin/env bash
# setup.sh - install what Corral needs to build and test, only when it is missing.
# Safe to re-run: it checks first and does nothing when all is there.
#   scripts/setup.sh          build dependencies
#   scripts/setup.sh --test   build + test dependencies (pytest, node client packages)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# python3 also runs `make up`'s example app (python3 -m http.server) and the benchmarks.
build_pkgs=(build-essential pkg-config meson ninja-build libuv1-dev libraft-dev libmicrohttpd-dev
            libcurl4-openssl-dev libjansson-dev libcmocka-dev libcap-dev libseccomp-dev python3)
test_pkgs=(python3-pytest python3-requests procps iproute2 clang-format)

pkgs=("${build_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# Node.js and npm may come from Debian or from elsewhere; only the commands matter.
if [ $want_test = 1 ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" != 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Third-party client libraries used by the compatibility tests (npm, pinned).
if [ $want_test = 1 ] && { [ ! -d tests/clients/node_modules/mesos-framework ] ||
                           [ ! -d tests/clients/node_modules/marathon-event-bus-client ]; }; then
    echo "setup: npm install (tests/clients)"
    (cd tests/clients && npm install --no-audit --no-fund --loglevel=error)
fi
exit 0
