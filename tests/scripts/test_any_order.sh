#!/usr/bin/env bash
# The two commands of the README work in either order in one fresh clone:
# ./scripts/demo, then `STRATA_TEST_LABELS=unit ./scripts/test` (which must
# run tests, not find none in the demo's configuration of build/), then
# ./scripts/demo again (after the test script configured build/ its way).
# The clone holds only committed files, and runs the scripts exactly as a
# user would: no STRATA_* variable from the caller reaches them.
# Usage: test_any_order.sh SOURCE_DIR   (a git work tree; its HEAD is tested)
set -euo pipefail

src=${1:?usage: test_any_order.sh SOURCE_DIR}
skip() { echo "skipped: $*"; exit 77; }
command -v git >/dev/null || skip "git is not installed; apt-get install git"
head=$(git -C "$src" rev-parse HEAD 2>/dev/null) ||
  skip "$src is not a git work tree with a commit, so there is nothing to clone"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-any-order.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/strata

for v in $(compgen -e); do
  case $v in STRATA_*) unset "$v" ;; esac
done

fail() { # fail STEP LOG MESSAGE
  echo "FAIL step $1: $3"
  if [ -f "$2" ]; then
    echo "--- last 60 lines of its output:"
    tail -n 60 "$2"
  fi
  exit 1
}

# step N NAME CMD...: runs CMD in the clone, its output in $tmp/step-N.log.
step() {
  local n=$1 name=$2 log=$tmp/step-$1.log t0=$SECONDS
  shift 2
  echo "step $n: $name"
  (cd "$clone" && "$@") >"$log" 2>&1 || fail "$n" "$log" "$name exited with status $?"
  echo "step $n: $name passed ($((SECONDS - t0)) s)"
}

echo "step 0: git clone $src (HEAD $head) into $clone"
git clone -q "$src" "$clone" >"$tmp/step-0.log" 2>&1 &&
  git -C "$clone" checkout -q --detach "$head" >>"$tmp/step-0.log" 2>&1 ||
  fail 0 "$tmp/step-0.log" "git clone of $src failed"

step 1 "./scripts/demo in the fresh clone" ./scripts/demo

step 2 "STRATA_TEST_LABELS=unit ./scripts/test after the demo" \
  env STRATA_TEST_LABELS=unit ./scripts/test
if grep -q "No tests were found" "$tmp/step-2.log"; then
  fail 2 "$tmp/step-2.log" "ctest found no tests in build/ (the demo's configuration was reused)"
fi
ran=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9][0-9]*\).*/\1/p' "$tmp/step-2.log")
[ "${ran:-0}" -gt 0 ] ||
  fail 2 "$tmp/step-2.log" "no 'tests passed, 0 tests failed out of N' line with N > 0 from ctest"
echo "step 2: ctest ran $ran unit tests"

step 3 "./scripts/demo after the test script" ./scripts/demo

echo "ok: demo, test, demo in one fresh clone of $head"
