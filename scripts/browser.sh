#!/usr/bin/env bash
# Makes sure Debian's Chromium is on the machine for the browser tests (tests/browser/). Idempotent:
# nothing happens when /usr/bin/chromium is there. Installs it (apt-get, as root) when it is missing;
# runs `apt-get update` only when the package lists do not know chromium yet. Prints one line.
# Never fails the build: where it cannot install (no root, no apt-get), the browser tests skip and
# say what is missing.
set -uo pipefail
CHROMIUM=/usr/bin/chromium

# fonts-noto-cjk: without a Japanese font the screenshots show boxes instead of text.
missing=""
[ -x "$CHROMIUM" ] || missing="chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$missing fonts-noto-cjk"
if [ -z "$missing" ]; then
  echo "browser: $($CHROMIUM --version 2>/dev/null | head -n1 || echo "$CHROMIUM")"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: missing$( [ -x "$CHROMIUM" ] || echo " $CHROMIUM") ($missing) and there is no apt-get here: the browser tests will skip"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "browser: missing $missing and installing needs root: the browser tests will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! apt-cache show chromium fonts-noto-cjk >/dev/null 2>&1; then
  apt-get update -qq >"$log" 2>&1
fi
if apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1 && [ -x "$CHROMIUM" ]; then
  echo "browser: installed $($CHROMIUM --version 2>/dev/null | head -n1)"
else
  echo "browser: installing $missing failed (see $log): the browser tests will skip"
  exit 0
fi
rm -f "$log"
