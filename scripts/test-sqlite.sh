#!/usr/bin/env bash
# The whole suite on SQLite (a real file per test), as two shares of the test files run side
# by side (CRM_TEST_SHARD, tests/conftest.py): the machine has two cores, and one pytest
# spends much of its time waiting on the browser and on its test server. Each share's log
# is printed after; the run fails if either share fails.
#   scripts/test-sqlite.sh [pytest arguments]
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d)
for share in 1 2; do
  (CRM_TEST_SHARD=$share/2 "$here/.venv/bin/pytest" "$@" >"$logs/$share.log" 2>&1
   echo $? >"$logs/$share.rc") &
done
wait
status=0
for share in 1 2; do
  echo "==== SQLite, share $share of 2 ===="
  cat "$logs/$share.log"
  rc=$(cat "$logs/$share.rc")
  # pytest's 5 means "no tests collected" (a run narrowed to a few files): not a failure.
  [ "$rc" = 0 ] || [ "$rc" = 5 ] || status=1
done
rm -rf "$logs"
exit $status
