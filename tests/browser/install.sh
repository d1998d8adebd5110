#!/usr/bin/env bash
# What the real-browser test needs besides the `dev` extra (which brings the
# Playwright client): Debian's Chromium. Never `playwright install`: it
# downloads browsers, and CI has no internet.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update
    $SUDO apt-get install -y chromium
fi
