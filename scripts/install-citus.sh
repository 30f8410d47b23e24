#!/usr/bin/env bash
# Build and install Citus from the vendored source when the server lacks the extension
# (docs/scale-out.md).  Idempotent: does nothing when citus.control and citus.so exist.
#
# The source is ../shared/vendor/citus-13.2.2.tar.gz beside the repository (CI checks the
# repository out with shared/ beside it), or $CAMPAIGNDB_CITUS_SOURCE.  Build dependencies
# come from apt, with postgresql-server-dev-<major> pinned to the installed server's exact
# version: unpinned, apt would upgrade the server and libpq under running clusters.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source_tar=${CAMPAIGNDB_CITUS_SOURCE:-$root/../shared/vendor/citus-13.2.2.tar.gz}

bindir=${CAMPAIGNDB_PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')
sharedir=/usr/share/postgresql/$major
pkglibdir=/usr/lib/postgresql/$major/lib

if [[ -f "$sharedir/extension/citus.control" && -f "$pkglibdir/citus.so" ]]; then
    echo "citus present for PostgreSQL $major ($(sed -nE "s/^default_version = '(.*)'/\1/p" \
        "$sharedir/extension/citus.control"))"
    exit 0
fi
if [[ ! -f "$source_tar" ]]; then
    echo "citus is not installed and its source is missing: $source_tar" \
         "(set CAMPAIGNDB_CITUS_SOURCE)" >&2
    exit 1
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
        echo "run as root to build and install citus" >&2; exit 1
    fi
fi

started=$(date +%s)
server_version=$(dpkg-query -W -f='${Version}' "postgresql-$major")
packages=("postgresql-server-dev-$major=$server_version" liblz4-dev libzstd-dev libkrb5-dev)
missing=()
dpkg-query -W -f='${Status}' "postgresql-server-dev-$major" 2>/dev/null \
    | grep -q 'install ok installed' || missing+=("${packages[0]}")
for pkg in "${packages[@]:1}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=$root/.campaigndb/citus-build
rm -rf "$build"
mkdir -p "$build"
tar -xzf "$source_tar" -C "$build" --strip-components=1
cd "$build"
echo "building citus in $build"
./configure --without-libcurl PG_CONFIG="$bindir/pg_config" >configure.log 2>&1 \
    || { tail -30 configure.log >&2; exit 1; }
make -j2 with_llvm=no >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
$sudo make install with_llvm=no >install.log 2>&1 || { tail -30 install.log >&2; exit 1; }
echo "citus installed for PostgreSQL $major in $(( $(date +%s) - started )) s"
