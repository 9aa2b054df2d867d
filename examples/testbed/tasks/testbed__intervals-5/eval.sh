#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff e20c8542e5908bff627ddbc64aa801cc318ea4a8
git checkout e20c8542e5908bff627ddbc64aa801cc318ea4a8 -- tests/test_interval.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_interval.py b/tests/test_interval.py
index fcdc574..66c0fcb 100644
--- a/tests/test_interval.py
+++ b/tests/test_interval.py
@@ -48,3 +48,17 @@ def test_intersection_of_overlapping_intervals():
 
 def test_intersection_of_disjoint_intervals_is_none():
     assert Interval(1, 2).intersection(Interval(5, 6)) is None
+
+
+def test_intersection_at_a_shared_lower_bound():
+    closed = Interval(0, 4, closed_lo=True)
+    opened = Interval(0, 6, closed_lo=False)
+    assert closed.intersection(opened) == Interval(0, 4, closed_lo=False)
+    assert opened.intersection(closed) == Interval(0, 4, closed_lo=False)
+
+
+def test_intersection_at_a_shared_upper_bound():
+    closed = Interval(1, 5, closed_hi=True)
+    opened = Interval(2, 5)
+    assert closed.intersection(opened) == Interval(2, 5)
+    assert opened.intersection(closed) == Interval(2, 5)
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout e20c8542e5908bff627ddbc64aa801cc318ea4a8 -- tests/test_interval.py
