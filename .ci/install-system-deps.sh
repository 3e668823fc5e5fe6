#!/usr/bin/env bash
# System packages the tests need that pip cannot provide: Debian's chromium, driven by Playwright in
# tests/test_leaderboard_browser.py (browser downloads are impossible here; never `playwright install`).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (or passwordless sudo).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-system-deps: /usr/bin/chromium is missing and this is not root; install Debian's chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
