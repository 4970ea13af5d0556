# make install into a temporary DESTDIR: the binary, every page in the folder of
# its section (man1/, man5/), and man(1) finds a section 5 page there
set -e
root=$TMP/root
# the build the tests run on (build/ or build-san/); a make of its own, not a sub-make of
# the one running the tests (whose jobserver it cannot use)
case $NNPRESS in */build-san/nnpress) san=1 ;; *) san= ;; esac
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s install SAN=$san \
    PREFIX=/usr/local DESTDIR="$root" >/dev/null
mandir=$root/usr/local/share/man
for page in man/*.[0-9]; do
    sect=${page##*.}
    [ -f "$mandir/man$sect/$(basename "$page")" ] || { echo "missing: man$sect/$(basename "$page")"; exit 1; }
done
misplaced=$(find "$mandir" -type f | awk -F/ '{ n = split($NF, p, "."); d = $(NF-1); if (d != "man" p[n]) print d "/" $NF }')
[ -z "$misplaced" ] || { echo "in the wrong section folder: $misplaced"; exit 1; }
echo "every page is in its section's folder"
# man-db runs its formatters in a seccomp sandbox, which refuses what tools preloaded
# into the test's processes need (libfaketime's semaphores, when CI is run with the
# clock set ahead): off for these two calls, which only read our own page
export MAN_DISABLE_SECCOMP=1
man -w -M "$mandir" 5 nnpress-report
MANWIDTH=80 man -P cat -M "$mandir" 5 nnpress-report 2>/dev/null | grep -A1 '^NAME'
"$root/usr/local/bin/nnpress" --version >/dev/null && echo "the installed binary runs"
