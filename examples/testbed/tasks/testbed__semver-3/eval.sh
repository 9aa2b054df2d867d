#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 7b58249322d5a102fde9b9caac37be638baa5b23
git checkout 7b58249322d5a102fde9b9caac37be638baa5b23 -- tests/test_version.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_version.py b/tests/test_version.py
index 9862169..531494a 100644
--- a/tests/test_version.py
+++ b/tests/test_version.py
@@ -46,3 +46,14 @@ def test_bump_major_and_minor():
 
 def test_bump_patch_of_a_release():
     assert str(Version.parse("1.4.2").bump_patch()) == "1.4.3"
+
+
+def test_bump_patch_of_a_prerelease_releases_it():
+    assert str(Version.parse("1.2.3-rc.1").bump_patch()) == "1.2.3"
+    assert str(Version.parse("1.2.3-rc.1+build.7").bump_patch()) == "1.2.3"
+    assert str(Version.parse("1.2.3").bump_patch()) == "1.2.4"
+
+
+def test_bumped_prerelease_sorts_after_it():
+    pre = Version.parse("2.0.0-beta.1")
+    assert pre < pre.bump_patch() == Version.parse("2.0.0")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 7b58249322d5a102fde9b9caac37be638baa5b23 -- tests/test_version.py
