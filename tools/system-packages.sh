#!/usr/bin/env bash
# Install the Debian packages listed in installers/debian-packages.txt when we can; otherwise say which are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t wanted < <(sed -E 's/#.*//; s/[[:space:]]+//g' "$here/installers/debian-packages.txt" | grep -v '^$')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Cunzhan needs these system packages (Debian names): ${missing[*]}" >&2
  echo "Install their equivalents with your system's package manager, then run make again." >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Cunzhan needs these system packages, which are not installed: ${missing[*]}" >&2
  echo "Run:  sudo apt-get install ${missing[*]}" >&2
  echo "(Continuing: the parts that need them will say so.)" >&2
  exit 0
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
