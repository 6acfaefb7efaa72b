#!/usr/bin/env bash
# Set-up for a fresh machine: everything the test suite needs, so that `python -m pytest`
# runs every test instead of skipping. Used by .ci/run too. Safe to run again: each step
# is skipped when what it installs is already there.
#
#   Debian packages  chromium (the report's browser test), postgresql and redis-server
#                    (the scale-out tests start their own servers on 127.0.0.1; the
#                    packages' system-wide servers are not started), openssl (the local TSA)
#   .venv/           evidence with its test extra, ruff and mypy
#   .tools/          pywb and py-wacz, the independent replay and packaging tools the
#                    tests check against (their own environment: pywb pins brotlipy,
#                    which clashes with Scrapy's brotli); ReplayWeb.page's static files
#                    (npm's replaywebpage, unpacked from its tarball: only its built
#                    ui.js and sw.js are served, so its build dependencies are not installed)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# npm fetches ReplayWeb.page's files (below); Debian's npm brings Node.js with it.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The time-stamp tests run OpenSSL's own TSA (`openssl ts -reply`) and check with `openssl ts -verify`.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "setup: install these Debian packages as root, then run this again: ${missing[*]}" >&2
        echo "  apt-get install ${missing[*]}" >&2
        exit 2
    fi
    echo "setup: installing ${missing[*]}"
    # policy-rc.d keeps the packages from starting their system-wide servers on install.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
        added_policy=yes
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ -n "$added_policy" ]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
# Scrapy's own download-handler tests, from its sdist, run against the project's handler.
.venv/bin/python tests/scrapy_suite/fetch.py

if [ ! -x .tools/bin/wayback ] || [ ! -x .tools/bin/wacz ]; then
    python3 -m venv .tools
    .tools/bin/pip install --quiet --upgrade pip
    .tools/bin/pip install --quiet 'pywb>=2.10,<2.11' 'wacz>=0.6,<0.7'
fi

RWP_VERSION=2.5.3
if [ ! -f .tools/rwp/package/sw.js ] || ! grep -q "\"version\": \"$RWP_VERSION\"" .tools/rwp/package/package.json; then
    rm -rf .tools/rwp && mkdir -p .tools/rwp
    (cd .tools/rwp && npm pack --silent "replaywebpage@$RWP_VERSION" >/dev/null && tar xzf "replaywebpage-$RWP_VERSION.tgz" && rm "replaywebpage-$RWP_VERSION.tgz")
fi

echo "setup: done; activate with '. .venv/bin/activate', run the tests with 'python -m pytest'"
