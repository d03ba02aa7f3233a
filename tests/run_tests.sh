#!/bin/sh
# Run every test binary in $1/tests from the repository root, sum their
# "N passed, N failed" lines, and close with the total.  A binary that crashes
# or prints no closing line counts as one failure.
build=${1:?usage: run_tests.sh BUILD_DIR}
export FLOE_BIN="$build/floe"
total_pass=0
total_fail=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$("$t" 2>"$build/tests/$name.log")
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: no result line (exit $rc); log: $build/tests/$name.log"
		tail -n 20 "$build/tests/$name.log"
		total_fail=$((total_fail + 1))
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		echo "$name: $line (exit $rc)"
		grep -E 'FAIL|ERROR|runtime error|Sanitizer' "$build/tests/$name.log" | head -n 20
		[ "$f" -eq 0 ] && total_fail=$((total_fail + 1))
	else
		echo "$name: $line"
	fi
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
