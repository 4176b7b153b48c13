#!/usr/bin/env bash
# Run a command with the real services the tests use, each started here and stopped on exit:
#  - a D-Bus session with gnome-keyring's Secret Service, unlocked (the kiosk's keyring backend on Linux);
#  - a throw-away PostgreSQL cluster on 127.0.0.1 (CUNZHAN_TEST_PG_URL), when PostgreSQL is installed.
# Everything lives under one temporary directory.
set -euo pipefail
keyring_password=test-only-password
if [ -z "${CUNZHAN_SERVICES_UP:-}" ] && [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" -o -n "${CI:-}" ] && command -v dbus-run-session >/dev/null; then
  # A private session bus. It starts gnome-keyring itself, unlocked, on the keyring in this run's folder, and starts
  # it again the same way should it ever go away mid-run (its service file below comes first: XDG_DATA_HOME is
  # the bus's first service folder). Otherwise the bus would start the system's gnome-keyring on ~/.local/share,
  # which wants a password prompt nobody can answer ("Prompt dismissed"; seen once on a fresh machine).
  tmp=$(mktemp -d /tmp/cunzhan-services.XXXXXX)
  chmod 755 "$tmp"
  export XDG_DATA_HOME="$tmp/xdg-data" XDG_RUNTIME_DIR="$tmp/xdg-run"
  mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  if command -v gnome-keyring-daemon >/dev/null; then
    mkdir -p "$XDG_DATA_HOME/dbus-1/services"
    printf '#!/bin/sh\nprintf %%s %s | exec gnome-keyring-daemon --unlock --foreground --components=secrets 2>>%s\n' \
      "$keyring_password" "$tmp/keyring.log" >"$tmp/keyring-daemon"  # its warnings in a file, not amid the tests
    chmod 755 "$tmp/keyring-daemon"
    printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n' "$tmp/keyring-daemon" \
      >"$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service"
  fi
  export CUNZHAN_SERVICES_UP=dbus CUNZHAN_SERVICES_DIR="$tmp"
  trap 'rm -rf "$tmp"' EXIT  # once the bus is gone (it watches its service folder)
  dbus-run-session -- "$0" "$@"
  exit
fi
own_tmp=""
if [ -n "${CUNZHAN_SERVICES_DIR:-}" ]; then
  tmp=$CUNZHAN_SERVICES_DIR
  unset CUNZHAN_SERVICES_DIR
else
  tmp=$(mktemp -d /tmp/cunzhan-services.XXXXXX)
  chmod 755 "$tmp"
  own_tmp=1
fi
cleanup() {
  if [ -n "${pg_dir:-}" ] && [ -f "$pg_dir/postmaster.pid" ]; then
    $pg_run "$pg_bin/pg_ctl" -D "$pg_dir" -m immediate stop >/dev/null 2>&1 || true
  fi
  [ -n "${keyring_pid:-}" ] && kill "$keyring_pid" 2>/dev/null || true
  if [ -n "$own_tmp" ]; then rm -rf "$tmp"; fi  # else the outer stage removes it once the bus is gone
}
trap cleanup EXIT

# Wait (up to 5 s) until the unlocked login collection exists: tests that start before it would find no collection,
# and gnome-keyring would ask for a password prompt nobody can answer (seen once: 243 tests in error).
wait_for_login_collection() {
  for _ in $(seq 50); do
    dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
      org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Service string:Collections 2>/dev/null \
      | grep -q collection/login && return 0
    sleep 0.1
  done
}

# Secret Service: gnome-keyring unlocked with a throw-away password on the session bus.
if [ -f "$tmp/keyring-daemon" ] && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  # Our private bus: it starts the daemon (and restarts it if need be).
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.StartServiceByName string:org.freedesktop.secrets uint32:0 >/dev/null 2>&1 || true
  wait_for_login_collection
elif command -v gnome-keyring-daemon >/dev/null && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  export XDG_DATA_HOME="$tmp/xdg-data" XDG_RUNTIME_DIR="$tmp/xdg-run"
  mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  eval "$(printf '%s' "$keyring_password" | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
  keyring_pid=${GNOME_KEYRING_PID:-}
  wait_for_login_collection
fi

# PostgreSQL: initdb into the temporary directory (as the postgres user when we are root).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "${CUNZHAN_TEST_PG_URL:-}" ] && [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
  pg_dir="$tmp/pg"; mkdir -p "$pg_dir"
  pg_run=""
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pg_dir" "$tmp"; pg_run="runuser -u postgres --"; fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $pg_run "$pg_bin/initdb" -D "$pg_dir" -U cunzhan --auth=trust -E UTF8 >/dev/null
  $pg_run "$pg_bin/pg_ctl" -D "$pg_dir" -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c max_connections=300" \
    -l "$tmp/pg.log" -w start >/dev/null
  export CUNZHAN_TEST_PG_URL="postgresql+psycopg://cunzhan@127.0.0.1:$port/postgres"
fi
"$@"
