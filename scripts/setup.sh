#!/usr/bin/env bash
# Installs what Gatehouse needs and is missing; does nothing for what is already there.
# Only the package registries are used (rustup's targets, apt, npm, pip): no tool downloads a
# prebuilt binary from elsewhere. Usage: scripts/setup.sh [--e2e | --bench | --postgres]
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif have sudo; then sudo "$@"
  else echo "error: '$*' needs root; run it as root or install sudo" >&2; exit 1
  fi
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have cargo && have rustup || { echo "error: Rust (cargo + rustup) is required: see https://rustup.rs" >&2; exit 1; }

# The hydrate bundle is compiled for wasm32.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [ "${1:-}" = "--bench" ]; then
  # The load generator and the reverse-proxy baseline of `make bench`.
  have wrk || apt_install wrk
  [ -x /usr/sbin/nginx ] || apt_install nginx-light
fi

if [ "${1:-}" = "--e2e" ] || [ "${1:-}" = "--postgres" ]; then
  # The integration suite runs a second time on a throwaway PostgreSQL cluster (with TLS from
  # a throwaway CA); `make bench-postgres` measures on one.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  have openssl || apt_install openssl
fi

if [ "${1:-}" = "--e2e" ]; then
  # The test runner (a process per test).
  cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

  # Debian's chromium, driven by Playwright (it never downloads its own browser here).
  [ -x /usr/bin/chromium ] || apt_install chromium
  # The browser tests make a throwaway CA for https peers.
  have openssl || apt_install openssl
  # deploy/'s proxy configs are checked with the real servers (app/tests/it/deploy.rs).
  [ -x /usr/sbin/nginx ] || apt_install nginx-light
  have caddy || apt_install caddy
  have npm || apt_install nodejs npm
  # The official MCP Python SDK (PyPI), in a virtualenv of its own, for end2end/python/.
  venv="${GATEHOUSE_PYTHON_ENV:-$HOME/.cache/gatehouse/python}"
  have python3 || apt_install python3
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  pystamp="$venv/.installed"
  if [ ! -f "$pystamp" ] || [ end2end/python/requirements.txt -nt "$pystamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r end2end/python/requirements.txt
    touch "$pystamp"
  fi
  stamp=end2end/node_modules/.installed
  if [ ! -f "$stamp" ] || [ end2end/package-lock.json -nt "$stamp" ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix end2end --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
fi
