#!/usr/bin/env bash
# What the real-browser test needs: Debian's Chromium and the Playwright client.
# Never `playwright install`: it downloads browsers, and CI has no internet.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update
    $SUDO apt-get install -y chromium
fi
python -m pip install --quiet playwright
