#!/bin/sh
# What `make fuzz` needs beyond `make deps` (tests/deps.sh): clang, and the compiler-rt
# runtimes it links libFuzzer and the sanitizers from. Idempotent: nothing is asked
# for when both are installed.
set -eu
missing=""
for p in clang libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "fuzz-deps: missing Debian packages:$missing (run 'make fuzz' as root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
