#!/usr/bin/env bash
# Install what the test suites need when it is missing: Debian's postgresql-<major>-pgtap
# (the extension, for the server binaries the embedded cluster uses), pg_prove, and pgbouncer
# (the pytest suite runs the integration tests a second time through a throwaway PgBouncer;
# Debian's own pgbouncer service is not started).
set -euo pipefail

bindir=""
if command -v pg_config >/dev/null; then bindir=$(pg_config --bindir); fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')
sharedir=$("$bindir/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$major")

missing=()
[[ -f "$sharedir/extension/pgtap.control" ]] || missing+=("postgresql-$major-pgtap")
command -v pg_prove >/dev/null || missing+=("libtap-parser-sourcehandler-pgtap-perl")
[[ -x /usr/sbin/pgbouncer ]] || command -v pgbouncer >/dev/null || missing+=("pgbouncer")
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "test dependencies present (pgTAP for PostgreSQL $major, pg_prove, pgbouncer)"
    exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
        echo "run as root or install: apt-get install ${missing[*]}" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# The pgbouncer package would start a system-wide pgbouncer on port 6432; the tests start
# their own. A policy-rc.d that denies service starts (the usual Debian way) keeps it off
# while we install, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
