#!/bin/sh
# The man pages: lint them, check they are built from their scdoc sources, and
# check that every flag a command's --help prints is documented on its page.
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
failed=0
passed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
# is flag $2 (e.g. --json) on page $1? scdoc writes it as-is, hand roff as \-\-json
has_flag() { sed 's/\\-/-/g' "$1" | grep -qE -- "${2}([^a-z0-9-]|\$)"; }

for src in man/*.scd; do
    page=${src%.scd}
    if command -v scdoc >/dev/null 2>&1; then
        if ! sh man/build.sh "$src" | cmp -s - "$page"; then
            fail "$page is not what $src builds to (run 'make man')"
            continue
        fi
    fi
    # scdoc writes an empty .PP before every section and list; mandoc calls that
    # style, not an error. Anything else it says fails the page.
    lint=$(mandoc -Tlint -Wwarning "$page" 2>&1 | grep -v 'skipping paragraph macro')
    if [ -n "$lint" ]; then
        fail "$page: mandoc: $lint"
        continue
    fi
    for sect in OPTIONS "EXIT STATUS" EXAMPLES FILES; do
        case $page in *.5) [ "$sect" = OPTIONS ] || [ "$sect" = "EXIT STATUS" ] || [ "$sect" = FILES ] && continue ;; esac
        grep -q "^\.SH $sect" "$page" || fail "$page: no $sect section"
    done
    passed=$((passed + 1))
done

# commands: the ones --help lists, each checked against man/nnpress-CMD.1
cmds=$("$NNPRESS" --help | awk '/^(commands|pass commands)/{on=1; next} /^$/{on=0} on{print $1}')
[ -n "$cmds" ] || fail "nnpress --help lists no commands"
for flag in $("$NNPRESS" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
    has_flag man/nnpress.1 "$flag" || fail "nnpress.1 lacks $flag from 'nnpress --help'"
done
for cmd in $cmds; do
    page=man/nnpress-$cmd.1
    if [ ! -f "$page" ]; then
        fail "no man page $page for command $cmd"
        continue
    fi
    grep -q "\\*$cmd\\*" man/nnpress.1.scd || fail "nnpress.1 does not mention command $cmd"
    help=$("$NNPRESS" "$cmd" --help) || { fail "nnpress $cmd --help failed"; continue; }
    n=0
    for flag in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        n=$((n + 1))
        has_flag "$page" "$flag" || fail "$page lacks $flag from 'nnpress $cmd --help'"
    done
    # and the other way: a flag in the page's OPTIONS that --help does not know is stale
    opts=$(awk '/^\.SH /{on=($0 ~ /OPTIONS/)} on' "$page")
    for flag in $(printf '%s\n' "$opts" | sed 's/\\-/-/g' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        printf '%s\n' "$help" | grep -qF -- "$flag" || fail "$page documents $flag, which 'nnpress $cmd --help' does not list"
    done
    [ "$n" -gt 0 ] || fail "nnpress $cmd --help lists no flags"
    passed=$((passed + 1))
done
echo "man: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
