#!/usr/bin/env bash
# Least privilege in Redis: one ACL user per service, each allowed only the
# keys and commands it needs (docs/deploy.md, "Redis users"). Writes an ACL
# file for redis-server --aclfile and a password per user:
#
#   deploy/redis/acl.sh DIR [PREFIX]
#     DIR/users.acl          the ACL file (passwords only as SHA-256)
#     DIR/<user>.password    each user's password, made once (32 random
#                            bytes, hex) and kept when the script runs again
#   PREFIX: the keyspace prefix of the services' --key-prefix (default rs:)
#
# The users (key patterns after the prefix P; %R~ read, %RW~ read and write;
# & pub/sub channels):
#   default    off: a connection without a user can do nothing
#   admin      everything (stack.sh itself: cluster set-up, checks)
#   ingestion  writes events and what an event updates: the event streams,
#              dedupe markers, histories, popularity and trend sets, item
#              metadata; announces changed items (items:updates) and
#              users whose histories changed (users:updates); reads
#              the models (Recommend-time lookups)
#   training   reads everything; writes models and their announcements, and
#              the event streams' consumer-group state (XREADGROUP/XACK write
#              it: reading a stream with a group is a write in Redis' eyes);
#              XADD is refused: it adds no event
#   retrieval  reads; subscribes to model, item and user announcements (the
#              gateway with --embed runs ranking's code as this user)
#   ranking    reads; subscribes to model and item announcements
#   (the gateway has no Redis user: it reaches Redis only through services)
# Dangerous commands (FLUSHALL, KEYS, CONFIG, DEBUG, ...) are refused to
# every service; INFO (replication, for WAIT), TIME (model timestamps) and
# CLUSTER SLOTS (the cluster client's slot map) are allowed.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [PREFIX]" >&2; exit 2; }
dir=$1
p=${2:-rs:}
case $p in
  *[\*\?\[\]\\\ ]*) echo "acl.sh: prefix '$p' holds a glob or space character" >&2; exit 2 ;;
esac
mkdir -p "$dir"
users=(admin ingestion training retrieval ranking)
hash_of() {
  local f=$dir/$1.password
  if [ ! -s "$f" ]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$f")
  fi
  printf '#%s' "$(tr -d '\n' < "$f" | sha256sum | cut -d' ' -f1)"
}
# Commands: none, then the categories each user needs, then dangerous ones
# off again (KEYS is in @read, FLUSHALL in @write), then the few needed ones.
pre="-@all +@connection"
post="-@dangerous +info +time +cluster|slots +cluster|info"
{
  echo "user default off resetkeys resetchannels -@all"
  echo "user admin on $(hash_of admin) ~* &* +@all"
  echo "user ingestion on $(hash_of ingestion) resetkeys %RW~${p}events %RW~${p}{p*}:* %RW~${p}evt:*" \
    "%RW~${p}hist:* %RW~${p}pop:* %RW~${p}trend* %RW~${p}item:* %R~${p}model:* resetchannels" \
    "&${p}items:updates &${p}users:updates $pre +@read +@write +@scripting +@transaction +publish $post"
  echo "user training on $(hash_of training) resetkeys %R~${p}* %RW~${p}events %RW~${p}{p*}:events" \
    "%RW~${p}model:* resetchannels &${p}model:updates* $pre +@read +@write +@transaction +publish -xadd $post"
  for u in retrieval ranking; do
    users_channel=""
    [ "$u" = retrieval ] && users_channel="&${p}users:updates "
    echo "user $u on $(hash_of $u) resetkeys %R~${p}* resetchannels &${p}model:updates*" \
      "&${p}items:updates ${users_channel}$pre +@read" \
      "+subscribe +unsubscribe $post"
  done
} > "$dir/users.acl"
