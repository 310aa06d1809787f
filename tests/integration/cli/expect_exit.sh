#!/usr/bin/env bash
# expect_exit.sh CODE CMD...: passes when CMD exits with CODE and says why on stderr.
want=$1
shift
err=$("$@" 2>&1 >/dev/null)
got=$?
if [ "$got" != "$want" ]; then
  echo "expected exit $want, got $got: $err" >&2
  exit 1
fi
if [ -z "$err" ]; then
  echo "no error message on stderr" >&2
  exit 1
fi
# A command's own failure reads "recstack <cmd>: <message>" (or, for the
# other binaries, "recstack-<name>: <message>").
if [ "$want" = 1 ] && [[ "$err" != "recstack "*": "* && "$err" != "recstack-"*": "* ]]; then
  echo "error message not of the form 'recstack <cmd>: <message>': $err" >&2
  exit 1
fi
echo "exit $got: $err"
