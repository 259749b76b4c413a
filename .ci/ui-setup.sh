#!/usr/bin/env bash
# Install what the browser tests (tests/ui) need on a clean Debian 12 machine; run as root.
#   bash .ci/ui-setup.sh
# Chromium comes from Debian and Playwright drives it by path (/usr/bin/chromium). Never run
# `playwright install`: it downloads a browser from a CDN, which CI cannot reach.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

apt-get update -qq
# Fonts: stable text metrics in screenshots. python3-venv: Debian's python3 lacks ensurepip without it.
packages=(chromium fonts-liberation fonts-dejavu-core)
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
apt-get install -y -qq "${packages[@]}" >/dev/null
/usr/bin/chromium --version
# The Python side (playwright, jupyterlab, notebook) comes with the package's `test` extra.
