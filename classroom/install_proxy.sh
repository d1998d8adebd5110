#!/usr/bin/env bash
# What JupyterHub needs besides the `classroom` extra: its proxy, configurable-http-proxy,
# from npm, and Node.js from Debian if it is missing. (tests/test_hub.py is skipped without it.)
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v npm >/dev/null; then
    $SUDO apt-get update
    $SUDO apt-get install -y nodejs npm
fi
if ! command -v configurable-http-proxy >/dev/null; then
    $SUDO npm install -g configurable-http-proxy
fi
