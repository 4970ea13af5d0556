#!/bin/sh
# Build one man page from its scdoc source, reproducibly:
#
#   sh man/build.sh man/nnpress-run.1.scd > man/nnpress-run.1
#
# scdoc stamps the page's .TH line with SOURCE_DATE_EPOCH, or today's date when
# that is unset: the committed page would then stop matching its source the day
# after it was built. Each source says its own date instead, in a comment on its
# second line ("; date: 2026-12-01", the day the page last changed in meaning),
# and that date is the only one the page ever carries, whoever builds it when.
set -eu
src=$1
day=$(sed -n '2s/^; date: \([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\)$/\1/p' "$src")
if [ -z "$day" ]; then
    echo "man/build.sh: $src: line 2 must be '; date: YYYY-MM-DD' (the page's date)" >&2
    exit 1
fi
epoch=$(date -u -d "$day" +%s)
SOURCE_DATE_EPOCH=$epoch scdoc < "$src"
