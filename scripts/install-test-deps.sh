#!/usr/bin/env bash
# System packages the visualization tests use: headless Chromium with its
# WebDriver (browser test of the tree viewer) and Graphviz's `dot` (offline PNG
# diagrams). Idempotent and non-interactive; installs only what is missing.
# Never fails the test run: when apt is unavailable it says why and exits 0, and
# the tests that need the missing tool skip with a reason.
set -u

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# Without any font, screenshots and diagrams show empty boxes instead of text.
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -1)" ]; }; then
  missing+=(fonts-dejavu-core)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

skip() {
  echo "install-test-deps: not installing ${missing[*]}: $1." >&2
  echo "install-test-deps: the browser/diagram tests that need them will be skipped." >&2
  exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "apt-get not found (install them with your package manager)"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    skip "not root and no password-less sudo (run: sudo apt-get install -y ${missing[*]})"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_get=("${sudo[@]}" apt-get -y -q -o Dpkg::Use-Pty=0)

echo "install-test-deps: installing ${missing[*]}" >&2
# An empty or stale package index makes `install` fail with "Unable to locate";
# refresh it once and retry rather than always paying for an update.
if ! "${apt_get[@]}" install --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  "${apt_get[@]}" update >/dev/null 2>&1 || skip "apt-get update failed (no network?)"
  "${apt_get[@]}" install --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || skip "apt-get install failed (run: apt-get install -y ${missing[*]} to see why)"
fi
echo "install-test-deps: installed ${missing[*]}" >&2
exit 0
