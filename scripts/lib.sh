# Shared helpers for scripts/run, scripts/test and .ci/run. Source it; do not run it.
# shellcheck shell=bash

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed. $2" >&2; exit 1; }
}

# Installs the pinned npm tools (Azurite; TypeScript and axe-core for the page's checks and tests)
# from package-lock.json, as npm ci does, when node_modules is missing one of them or is older than
# the lock file (a pull that changed the lock installs again).
ensure_azurite_installed() {
  need node "Install Node.js 20 or later (https://nodejs.org) and try again."
  need npm "Install npm (it comes with Node.js) and try again."
  local installed=node_modules/.package-lock.json # npm writes it on every install
  if [ ! -x node_modules/.bin/azurite ] || [ ! -x node_modules/.bin/tsc ] || [ ! -f node_modules/axe-core/axe.min.js ] \
     || [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ]; then
    echo "==> Installing Azurite, TypeScript and axe-core from package-lock.json (npm ci; about a minute the first time)..."
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# apt_install PACKAGE PURPOSE ALTERNATIVE: installs a Debian package with apt-get when this user may
# (root, or password-less sudo); otherwise stops, saying what it is for and what else to do.
apt_install() {
  local package=$1 purpose=$2 alternative=$3 sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "error: $purpose need $package. Install it ('sudo apt-get install $package') or $alternative, and try again." >&2; exit 1
    fi
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "error: $purpose need $package and this machine has no apt-get. Install it, or $alternative." >&2; exit 1; }
  echo "==> Installing Debian's $package for $purpose (apt-get; a minute or two the first time)..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
}

# The page tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
# AUDITTRAIL_CHROMIUM points the tests at another Chromium or Chrome binary.
ensure_chromium() {
  local browser=${AUDITTRAIL_CHROMIUM:-/usr/bin/chromium}
  if [ -x "$browser" ]; then return; fi
  if [ -n "${AUDITTRAIL_CHROMIUM:-}" ]; then
    echo "error: AUDITTRAIL_CHROMIUM is '$AUDITTRAIL_CHROMIUM', which is not an executable." >&2; exit 1
  fi
  apt_install chromium "the page tests" "set AUDITTRAIL_CHROMIUM to a Chromium or Chrome"
  [ -x /usr/bin/chromium ] || { echo "error: apt-get did not install /usr/bin/chromium." >&2; exit 1; }
  echo "    $(/usr/bin/chromium --version 2>/dev/null)"
}

# The clock runs of scripts/test put the tests and their Azurite at another time of day with
# Debian's libfaketime (LD_PRELOAD).
ensure_faketime() {
  if faketime_library >/dev/null; then return; fi
  apt_install faketime "the clock runs" "skip them with AUDITTRAIL_CLOCK_RUNS=0"
  faketime_library >/dev/null || { echo "error: apt-get did not install libfaketime." >&2; exit 1; }
}

faketime_library() {
  local lib
  for lib in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    if [ -f "$lib" ]; then echo "$lib"; return 0; fi
  done
  return 1
}

# seconds_until HH:MM: how far the clock must move for it to read HH:MM:00 UTC today (negative
# when that is past).
seconds_until() {
  echo $(( $(date -u -d "$(date -u +%F) $1:00" +%s) - $(date -u +%s) ))
}

# start_azurite MODE PORTS
#   MODE:  memory (nothing kept) | disk (kept in .azurite/data)
#   PORTS: default (10000-10002) | random (free ports chosen by the OS)
# Sets AZURITE_PID and AZURITE_CONNECTION_STRING.
start_azurite() {
  local mode=$1 ports=$2 log args
  mkdir -p .azurite
  log=.azurite/azurite-$$.log
  args=(--silent --skipApiVersionCheck)
  if [ "$mode" = memory ]; then args+=(--inMemoryPersistence); else args+=(--location .azurite/data); fi
  if [ "$ports" = random ]; then args+=(--blobPort 0 --queuePort 0 --tablePort 0); fi
  echo "==> Starting Azurite ($mode, $ports ports; log: $log)"
  node_modules/.bin/azurite "${args[@]}" >"$log" 2>&1 &
  AZURITE_PID=$!
  local waited=0
  until [ "$(grep -c 'successfully listening' "$log" 2>/dev/null)" -ge 3 ]; do
    if ! kill -0 "$AZURITE_PID" 2>/dev/null; then
      echo "error: Azurite exited during start-up. Its log:" >&2; cat "$log" >&2
      echo "If a port is taken, stop the other Azurite (or run with random ports)." >&2
      exit 1
    fi
    if [ "$waited" -ge 600 ]; then
      echo "error: Azurite did not start within 60 s; see $log" >&2; kill "$AZURITE_PID" 2>/dev/null; exit 1
    fi
    sleep 0.1; waited=$((waited + 1))
    if [ $((waited % 50)) -eq 0 ]; then echo "    still waiting for Azurite ($((waited / 10)) s)..."; fi
  done
  local blob queue table
  blob=$(grep 'Blob service is successfully listening' "$log" | sed -E 's#.*:([0-9]+)$#\1#')
  queue=$(grep 'Queue service is successfully listening' "$log" | sed -E 's#.*:([0-9]+)$#\1#')
  table=$(grep 'Table service is successfully listening' "$log" | sed -E 's#.*:([0-9]+)$#\1#')
  AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
  echo "    Azurite is up: blob $blob, queue $queue, table $table (pid $AZURITE_PID)"
}

stop_azurite() {
  if [ -n "${AZURITE_PID:-}" ] && kill -0 "$AZURITE_PID" 2>/dev/null; then
    echo "==> Stopping Azurite (pid $AZURITE_PID)"
    kill "$AZURITE_PID" 2>/dev/null || true
    # Azurite can stall in its graceful shutdown; give it 5 s, then stop it for certain.
    local i
    for i in $(seq 50); do kill -0 "$AZURITE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$AZURITE_PID" 2>/dev/null || true
    wait "$AZURITE_PID" 2>/dev/null || true
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
