#!/bin/sh
# Run the libFuzzer build of one target (`make fuzz FUZZ=NAME` builds it first):
#   sh tests/fuzz/fuzz.sh NAME SECONDS [libFuzzer flags...]
# New inputs go to tests/fuzz/corpus/NAME; the seeds (tests/fuzz/seeds.sh) are copied
# into build-fuzz/seeds-NAME, because libFuzzer reads folders, not lists of files.
# A crash leaves crash-* / timeout-* / oom-* in the current folder. To keep the
# committed corpus small, merge it into a fresh folder that holds copies of the seeds
# (make check replays those anyway), then delete the copies again:
#   mkdir m && cp build-fuzz/seeds-run/* m/
#   build-fuzz/fuzz-run -set_cover_merge=1 -use_counters=0 -max_len=9581648 m \
#       tests/fuzz/corpus/run
# (-use_counters=0: edges, not hit counts, so a few hundred inputs rather than thousands)
set -eu
name=${1:?usage: fuzz.sh NAME SECONDS [flags]}
seconds=${2:?usage: fuzz.sh NAME SECONDS [flags]}
shift 2
bin=build-fuzz/fuzz-$name
seeds=build-fuzz/seeds-$name
rm -rf "$seeds"
mkdir -p "$seeds" "tests/fuzz/corpus/$name"
k=0
for p in $(sh tests/fuzz/seeds.sh "$name"); do
    if [ -d "$p" ]; then
        for f in "$p"/*; do
            [ -f "$f" ] || continue
            k=$((k + 1))
            cp "$f" "$seeds/$k-$(basename "$f")"
        done
    else
        k=$((k + 1))
        # node models are all called model.onnx: name the copy after the test's folder
        cp "$p" "$seeds/$k-$(basename "$(dirname "$p")")-$(basename "$p")"
    fi
done
# libFuzzer truncates inputs to -max_len (by default at most 1 MiB): let the largest
# seed (testdata's 9.6 MB MLP) in whole
max=4096
for f in "$seeds"/* tests/fuzz/corpus/"$name"/*; do
    [ -f "$f" ] || continue
    s=$(wc -c <"$f")
    [ "$s" -gt "$max" ] && max=$s
done
# -timeout and -rss_limit_mb are the backstop only: fuzz_run.c has the runtime refuse
# plans above its own memory and work limits first
exec "$bin" -max_total_time="$seconds" -max_len="$max" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 "$@" "tests/fuzz/corpus/$name" "$seeds"
