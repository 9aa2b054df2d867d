#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 9dfa1137ea8814d23bd73092c5acc049640b95f8
git checkout 9dfa1137ea8814d23bd73092c5acc049640b95f8 -- tests/test_intervalset.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_intervalset.py b/tests/test_intervalset.py
index ce1541e..5c3f4eb 100644
--- a/tests/test_intervalset.py
+++ b/tests/test_intervalset.py
@@ -38,3 +38,15 @@ def test_union():
 
 def test_repr():
     assert repr(IntervalSet([Interval(1, 4), Interval(3, 6)])) == "IntervalSet([[1, 6)])"
+
+
+def test_adjacent_members_are_joined():
+    assert list(IntervalSet([Interval(3, 5), Interval(1, 3)])) == [Interval(1, 5)]
+    joined = IntervalSet([Interval(1, 3, closed_hi=True), Interval(3, 5, closed_lo=False)])
+    assert list(joined) == [Interval(1, 5)]
+
+
+def test_members_with_a_one_point_gap_stay_apart():
+    numbers = IntervalSet([Interval(1, 3), Interval(3, 5, closed_lo=False), Interval(5, 7)])
+    assert list(numbers) == [Interval(1, 3), Interval(3, 7, closed_lo=False)]
+    assert numbers.gaps() == [Interval(3, 3, closed_hi=True)]
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 9dfa1137ea8814d23bd73092c5acc049640b95f8 -- tests/test_intervalset.py
