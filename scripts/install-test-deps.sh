#!/usr/bin/env bash
# Install what the pgTAP suite needs when it is missing: Debian's postgresql-<major>-pgtap
# (the extension, for the server binaries the embedded cluster uses) and pg_prove.
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
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "test dependencies present (pgTAP for PostgreSQL $major, pg_prove)"
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
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
