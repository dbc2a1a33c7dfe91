#!/usr/bin/env bash
# Make sure what the tests need is running or installed, or fail loudly:
#   PostgreSQL on 127.0.0.1:5432, MariaDB on 127.0.0.1:3306, Debian's docker-compose (compose validation),
#   OpenSSH's sshd binary (the SFTP tests start their own sshd on a free port; nothing is started here),
#   Debian's chromium (the Sources page e2e test drives it with Playwright; nothing is started here).
set -euo pipefail

fail() { echo "ensure-services: $*" >&2; exit 1; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }

wait_for() {  # wait_for NAME CMD...
    local name=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    fail "$name did not come up within 30 s"
}

# --- PostgreSQL ---------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
command -v pg_isready >/dev/null || fail "pg_isready not found: install PostgreSQL (Debian: postgresql)"
if ! pg_up; then
    echo "ensure-services: starting PostgreSQL"
    command -v pg_ctlcluster >/dev/null || fail "PostgreSQL is not running and pg_ctlcluster is missing"
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -1)
    [[ -n "$version" ]] || fail "PostgreSQL is not running and no cluster exists under /etc/postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start \
        || fail "could not start PostgreSQL $version/main"
    wait_for PostgreSQL pg_up
fi
echo "ensure-services: PostgreSQL ok (127.0.0.1:5432)"

# --- MariaDB ------------------------------------------------------------------------------
mariadb_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping; }
command -v mariadb-admin >/dev/null || fail "mariadb-admin not found: install MariaDB (Debian: mariadb-server)"
if ! mariadb_up >/dev/null 2>&1; then
    echo "ensure-services: starting MariaDB"
    [[ -x /usr/sbin/mariadbd ]] || fail "MariaDB is not running and /usr/sbin/mariadbd is missing"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd \
        || fail "could not start MariaDB"
    wait_for MariaDB mariadb_up
fi
echo "ensure-services: MariaDB ok (127.0.0.1:3306)"

# --- docker-compose (offline validation of docker-compose.yaml) -----------------------------
if ! command -v docker-compose >/dev/null; then
    is_root || fail "docker-compose is missing and only root can apt-get install it (Debian: docker-compose)"
    echo "ensure-services: installing Debian docker-compose"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq docker-compose >/dev/null || fail "apt-get install docker-compose failed"
fi
echo "ensure-services: $(docker-compose version --short 2>/dev/null || echo '?') docker-compose ok"

# --- OpenSSH sshd (SFTP tests run their own server; Debian's package must only be installed) -----
if [[ ! -x /usr/sbin/sshd ]]; then
    is_root || fail "/usr/sbin/sshd is missing and only root can apt-get install it (Debian: openssh-server)"
    echo "ensure-services: installing Debian openssh-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq openssh-server >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq openssh-server >/dev/null; } \
        || fail "apt-get install openssh-server failed"
fi
echo "ensure-services: sshd ok ($(/usr/sbin/sshd -V 2>&1 | head -1 || echo '?'))"

# --- Chromium (tests/e2e/test_sources_page.py; Playwright cannot download its own browser here) ---
if ! command -v chromium >/dev/null; then
    is_root || fail "chromium is missing and only root can apt-get install it (Debian: chromium)"
    echo "ensure-services: installing Debian chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
        || fail "apt-get install chromium failed"
fi
echo "ensure-services: chromium ok ($(chromium --version 2>/dev/null | head -1 || echo '?'))"
