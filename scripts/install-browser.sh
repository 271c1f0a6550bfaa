#!/usr/bin/env bash
# Headless Chromium for the review page's browser tests: Debian's chromium (and chromium-driver,
# for WebDriver users), where it is missing and this machine can install it (root, apt). Never
# fails the set-up: without a browser those tests skip and say so.
set -u
if command -v chromium >/dev/null 2>&1 || [ -n "${WSDATA_CHROMIUM:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
    || true
fi
if command -v chromium >/dev/null 2>&1; then
  echo "installed $(chromium --version 2>/dev/null)"
else
  echo "no Chromium could be installed here: the browser tests will skip (apt-get install chromium)"
fi
