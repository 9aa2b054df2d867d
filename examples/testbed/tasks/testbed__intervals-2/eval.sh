#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 4b9eed96ab726d20359c5a3630295c6ec8e3dacd
git checkout 4b9eed96ab726d20359c5a3630295c6ec8e3dacd -- tests/test_interval.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_interval.py b/tests/test_interval.py
index fcdc574..2deaf04 100644
--- a/tests/test_interval.py
+++ b/tests/test_interval.py
@@ -48,3 +48,14 @@ def test_intersection_of_overlapping_intervals():
 
 def test_intersection_of_disjoint_intervals_is_none():
     assert Interval(1, 2).intersection(Interval(5, 6)) is None
+
+
+def test_intervals_that_only_touch_do_not_overlap():
+    assert not Interval(1, 3).overlaps(Interval(3, 5))
+    assert not Interval(1, 3, closed_hi=True).overlaps(Interval(3, 5, closed_lo=False))
+    assert Interval(1, 3, closed_hi=True).overlaps(Interval(3, 5))
+
+
+def test_touching_intervals_have_no_intersection():
+    assert Interval(1, 3).intersection(Interval(3, 5)) is None
+    assert Interval(1, 3, closed_hi=True).intersection(Interval(3, 5)) == Interval(3, 3, closed_hi=True)
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 4b9eed96ab726d20359c5a3630295c6ec8e3dacd -- tests/test_interval.py
