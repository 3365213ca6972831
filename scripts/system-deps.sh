#!/usr/bin/env bash
# Installs the system packages the tests need (Debian's chromium for the browser tests,
# redis-server for the Redis job queue, postgresql for the PostgreSQL run) when they are missing and we may install them (root).
set -euo pipefail
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
if [ "${1:-}" = "--postgresql" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  want+=(postgresql)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${want[*]} (install them with apt-get as root)." >&2
  exit 1
fi
echo "Installing ${want[*]} ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
