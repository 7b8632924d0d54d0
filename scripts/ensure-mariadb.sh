#!/usr/bin/env bash
# Make sure a MariaDB (or MySQL) server binary exists; install MariaDB from the
# distribution when we can (root on Debian/Ubuntu), otherwise say exactly what to do.
set -euo pipefail
for bin in mariadbd mysqld; do
  if command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ]; then
    exit 0
  fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing mariadb-server (needed by the local target and the tests) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mariadb-server mariadb-client >/dev/null
  exit 0
fi
echo "no MariaDB/MySQL server found: install it with 'sudo apt-get install mariadb-server'" \
     "(Debian/Ubuntu), then run make again" >&2
exit 2
