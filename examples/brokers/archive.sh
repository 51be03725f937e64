#!/bin/sh
# A pushbroker custom broker in POSIX shell: archives every payload it gets.
#
# Writes the payload to archive/<delivery id>.json in its working directory (the
# repository's state directory), atomically, readable by its owner only. A redelivery
# has the same delivery id, so it replaces its own file instead of adding one.
#
# Exit codes follow the broker contract: 0 archived, 75 the disk refused (try again
# later), 2 called without a delivery id (not run by pushbroker).
set -u
umask 077

id=${PUSHBROKER_DELIVERY:-}
# The id names a file: accept only what pushbroker's ids are made of.
case "$id" in
  "" | *[!0-9a-fA-F-]*) echo "archive: PUSHBROKER_DELIVERY is missing or not an id" >&2; exit 2 ;;
esac

mkdir -p archive || exit 75
tmp="archive/.$id.tmp"
if ! cat > "$tmp"; then rm -f "$tmp"; exit 75; fi
if [ ! -s "$tmp" ]; then rm -f "$tmp"; echo "archive: empty payload" >&2; exit 2; fi
mv "$tmp" "archive/$id.json" || exit 75
echo "archive: archive/$id.json"
