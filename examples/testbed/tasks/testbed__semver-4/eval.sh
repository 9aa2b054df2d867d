#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 22f8077de76f8bf3b19dd70802facb37566ba1cf
git checkout 22f8077de76f8bf3b19dd70802facb37566ba1cf -- tests/test_version.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_version.py b/tests/test_version.py
index 9862169..8a8abfe 100644
--- a/tests/test_version.py
+++ b/tests/test_version.py
@@ -46,3 +46,11 @@ def test_bump_major_and_minor():
 
 def test_bump_patch_of_a_release():
     assert str(Version.parse("1.4.2").bump_patch()) == "1.4.3"
+
+
+def test_leading_zeros_are_not_allowed():
+    for text in ("01.2.3", "1.02.3", "1.2.03", "00.0.0"):
+        with pytest.raises(VersionError, match="not a semantic version"):
+            Version.parse(text)
+    assert Version.parse("10.0.20") == Version(10, 0, 20)
+    assert Version.parse("1.2.3") == Version(1, 2, 3)
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 22f8077de76f8bf3b19dd70802facb37566ba1cf -- tests/test_version.py
