#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver when they are missing (root, apt). Used by
# bootstrap.sh and by the browser tests' fixture; prints the chromedriver path.
set -euo pipefail
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium and chromium-driver are missing; install them (Debian: apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  echo "== installing chromium and chromium-driver (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium chromium-driver >&2
fi
command -v chromedriver
