#!/bin/sh
# A worker of your own, in shell: it counts, once every $INTERVAL seconds,
# and keeps its count in the tree's stash (any Redis client would do; this
# one uses redis-cli), so that kill -9 loses nothing. Run it under
#   seq-supervisor --config scripts/counter-tree.toml
# The supervisor gives it $SEQ_STASH (the stash's socket), $SEQ_NAME (its
# path in the tree), with readiness = "notify-fd" $SEQ_NOTIFY_FD, and, as
# the tree's stash_acl wants, its own user of the stash ($SEQ_STASH_USER,
# $SEQ_STASH_PASSWORD), whose keys begin with its name and a colon.
set -eu
key=${KEY:-${SEQ_STASH_USER:-counter}:count}
stash() {
  if [ -n "${SEQ_STASH_USER:-}" ]; then
    REDISCLI_AUTH=$SEQ_STASH_PASSWORD redis-cli -s "$SEQ_STASH" --user "$SEQ_STASH_USER" "$@"
  else
    redis-cli -s "$SEQ_STASH" "$@"
  fi
}

count=$(stash GET "$key")
count=${count:-0}
echo "$SEQ_NAME: starting from $count"
# Ready: a newline on the fd the supervisor gave, then close it.
if [ -n "${SEQ_NOTIFY_FD:-}" ]; then
  echo >&"$SEQ_NOTIFY_FD"
  eval "exec $SEQ_NOTIFY_FD>&-"
fi
while :; do
  count=$((count + 1))
  # The count is shown only once the stash holds it: a kill -9 at any
  # moment loses nothing that was shown.
  [ "$(stash SET "$key" "$count")" = OK ] || { echo "the stash refused SET" >&2; exit 1; }
  echo "count $count"
  sleep "${INTERVAL:-1}"
done
