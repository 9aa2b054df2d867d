#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 297ac18310ebba4be7a7049b84ad9180c116dfb9
git checkout 297ac18310ebba4be7a7049b84ad9180c116dfb9 -- tests/test_version.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_version.py b/tests/test_version.py
index 9862169..9593454 100644
--- a/tests/test_version.py
+++ b/tests/test_version.py
@@ -46,3 +46,15 @@ def test_bump_major_and_minor():
 
 def test_bump_patch_of_a_release():
     assert str(Version.parse("1.4.2").bump_patch()) == "1.4.3"
+
+
+def test_numeric_prerelease_identifiers_compare_as_numbers():
+    assert Version.parse("1.0.0-beta.2") < Version.parse("1.0.0-beta.11")
+    assert Version.parse("1.0.0-rc.99") < Version.parse("1.0.0-rc.100")
+    assert Version.parse("1.0.0-1") < Version.parse("1.0.0-alpha")
+
+
+def test_sorting_release_candidates():
+    texts = ["1.0.0-rc.10", "1.0.0", "1.0.0-rc.2", "1.0.0-rc.1"]
+    ordered = [str(v) for v in sorted(map(Version.parse, texts))]
+    assert ordered == ["1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0"]
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 297ac18310ebba4be7a7049b84ad9180c116dfb9 -- tests/test_version.py
