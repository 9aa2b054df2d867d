#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 1df026b6af4f41b1fd329ac543813b5fc98abb70
git checkout 1df026b6af4f41b1fd329ac543813b5fc98abb70 -- tests/test_ranges.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_ranges.py b/tests/test_ranges.py
index 4106fc8..145af5b 100644
--- a/tests/test_ranges.py
+++ b/tests/test_ranges.py
@@ -35,3 +35,15 @@ def test_exact_match():
 def test_empty_range_is_an_error():
     with pytest.raises(VersionError, match="empty range"):
         satisfies("1.0.0", "  ")
+
+
+def test_inclusive_comparisons():
+    assert satisfies("1.2.3", ">=1.2.3")
+    assert satisfies("1.2.3", "<=1.2.3")
+    assert not satisfies("1.2.2", ">=1.2.3")
+    assert not satisfies("1.2.4", "<=1.2.3")
+
+
+def test_inclusive_range_conjunction():
+    assert satisfies("2.0.0", ">=1.0.0 <=2.0.0")
+    assert not satisfies("1.0.0", ">1.0.0")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 1df026b6af4f41b1fd329ac543813b5fc98abb70 -- tests/test_ranges.py
