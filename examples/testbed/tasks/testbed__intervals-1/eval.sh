#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 5b2c92d3ead9864835cbd8c4822e6b4b7bb8bf14
git checkout 5b2c92d3ead9864835cbd8c4822e6b4b7bb8bf14 -- tests/test_interval.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_interval.py b/tests/test_interval.py
index fcdc574..cd4845e 100644
--- a/tests/test_interval.py
+++ b/tests/test_interval.py
@@ -48,3 +48,20 @@ def test_intersection_of_overlapping_intervals():
 
 def test_intersection_of_disjoint_intervals_is_none():
     assert Interval(1, 2).intersection(Interval(5, 6)) is None
+
+
+def test_closed_upper_bound_is_included():
+    assert 5 in Interval(1, 5, closed_hi=True)
+    assert 5.5 not in Interval(1, 5, closed_hi=True)
+    assert 5 not in Interval(1, 5)
+
+
+def test_closed_point_interval_holds_its_point():
+    assert 2 in Interval(2, 2, closed_hi=True)
+    assert 2 not in Interval(2, 2)
+
+
+def test_closed_upper_bound_in_a_set():
+    from intervals import IntervalSet
+
+    assert 8 in IntervalSet([Interval(1, 2), Interval(5, 8, closed_hi=True)])
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 5b2c92d3ead9864835cbd8c4822e6b4b7bb8bf14 -- tests/test_interval.py
