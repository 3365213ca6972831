#!/usr/bin/env bash
# The whole suite on a throwaway PostgreSQL cluster, as two shares of the test files run
# side by side (CRM_TEST_SHARD, tests/conftest.py): one pytest keeps waiting on the server
# and on the browser, two keep the cores busy. Each share's log is printed after.
#   scripts/test-postgres.sh DIR PORT [pytest arguments]
set -uo pipefail
dir=$1 port=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/pg-test-cluster.sh" stop "$dir" 2>/dev/null || true
rm -rf "$dir"
url=$(bash "$here/scripts/pg-test-cluster.sh" start "$dir" "$port") || exit 1
logs=$(mktemp -d)
for share in 1 2; do
  (CRM_TEST_SHARD=$share/2 TEST_DATABASE_URL=$url "$here/.venv/bin/pytest" "$@" \
     >"$logs/$share.log" 2>&1; echo $? >"$logs/$share.rc") &
done
wait
bash "$here/scripts/pg-test-cluster.sh" stop "$dir"
status=0
for share in 1 2; do
  echo "==== PostgreSQL, share $share of 2 ===="
  cat "$logs/$share.log"
  [ "$(cat "$logs/$share.rc")" = 0 ] || status=1
done
rm -rf "$logs"
exit $status
