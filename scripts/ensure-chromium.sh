#!/usr/bin/env bash
# Installs Debian's chromium for the `browser` test tier when /usr/bin/chromium is missing.
# The tests drive it with the playwright Python package (executable_path=/usr/bin/chromium);
# `playwright install` downloads browsers from the internet and must never be used here.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version
