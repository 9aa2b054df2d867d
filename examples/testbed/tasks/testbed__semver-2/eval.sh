#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff a29236005ba9f111980d6587de1c41d55c1a0618
git checkout a29236005ba9f111980d6587de1c41d55c1a0618 -- tests/test_ranges.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_ranges.py b/tests/test_ranges.py
index 4106fc8..b3a3746 100644
--- a/tests/test_ranges.py
+++ b/tests/test_ranges.py
@@ -35,3 +35,10 @@ def test_exact_match():
 def test_empty_range_is_an_error():
     with pytest.raises(VersionError, match="empty range"):
         satisfies("1.0.0", "  ")
+
+
+def test_caret_on_zero_major_allows_patch_updates():
+    assert satisfies("0.2.3", "^0.2.3")
+    assert satisfies("0.2.9", "^0.2.3")
+    assert not satisfies("0.3.0", "^0.2.3")
+    assert not satisfies("0.0.4", "^0.0.3")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout a29236005ba9f111980d6587de1c41d55c1a0618 -- tests/test_ranges.py
