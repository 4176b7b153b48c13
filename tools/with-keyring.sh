#!/usr/bin/env bash
# `make demo`'s keyring. The kiosk keeps its store key and device token in the OS keyring, never in files:
#  - in a desktop session whose Secret Service answers, the demo uses it as it is;
#  - otherwise (a server, a container, an SSH login) it starts a private D-Bus session with gnome-keyring's Secret
#    Service whose keyring file lives in the demo folder, unlocked with the demo password below, so the demo kiosk
#    finds its key and enrolment again on the next `make demo`. Demo data only: the password is printed on purpose.
set -euo pipefail
home="${CUNZHAN_HOME:-$PWD/.demo-home}"
demo_password="cunzhan-demo-keyring"

secret_service_answers() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
  for method in ListNames ListActivatableNames; do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        "org.freedesktop.DBus.$method" 2>/dev/null | grep -q '"org.freedesktop.secrets"'; then
      return 0
    fi
  done
  return 1
}

if [ -z "${CUNZHAN_DEMO_KEYRING:-}" ]; then
  if command -v dbus-send >/dev/null && secret_service_answers; then
    exec "$@"
  fi
  if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
    export CUNZHAN_DEMO_KEYRING=1
    exec dbus-run-session -- "$0" "$@"
  fi
  exec "$@"  # no keyring can be started here: the kiosk says so plainly (and `python -m kiosk doctor` says why)
fi

runtime=$(mktemp -d /tmp/cunzhan-demo-keyring.XXXXXX)
chmod 700 "$runtime"
export XDG_DATA_HOME="$home/keyring" XDG_RUNTIME_DIR="$runtime"
mkdir -p "$XDG_DATA_HOME"
chmod 700 "$XDG_DATA_HOME"
eval "$(printf '%s' "$demo_password" | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
stop() {
  if [ -n "${GNOME_KEYRING_PID:-}" ]; then kill "$GNOME_KEYRING_PID" 2>/dev/null || true; fi
  rm -rf "$runtime"
}
trap stop EXIT
echo "demo keyring: gnome-keyring on a private session, kept in $XDG_DATA_HOME (password: $demo_password)"
"$@"
