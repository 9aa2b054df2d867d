#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff bd6efd47b4040cd284d68b510abe6e8baa6ca58e
git checkout bd6efd47b4040cd284d68b510abe6e8baa6ca58e -- tests/test_text.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_text.py b/tests/test_text.py
index afa90ed..19138e9 100644
--- a/tests/test_text.py
+++ b/tests/test_text.py
@@ -24,3 +24,13 @@ def test_format_round_trips():
     interval = Interval(0, 2.5, closed_lo=False, closed_hi=True)
     assert format_interval(interval) == "(0, 2.5]"
     assert parse_interval(format_interval(interval)) == interval
+
+
+def test_parse_negative_bounds():
+    assert parse_interval("[-5, -1]") == Interval(-5, -1, closed_hi=True)
+    assert parse_interval("(-2.5, 3]") == Interval(-2.5, 3, closed_lo=False, closed_hi=True)
+
+
+def test_negative_bounds_round_trip():
+    interval = Interval(-10, -0.5, closed_lo=False)
+    assert parse_interval(format_interval(interval)) == interval
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout bd6efd47b4040cd284d68b510abe6e8baa6ca58e -- tests/test_text.py
