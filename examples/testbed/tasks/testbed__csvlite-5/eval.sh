#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff fea06ca3f2959292baff0759a86db99f2e67799e
git checkout fea06ca3f2959292baff0759a86db99f2e67799e -- tests/test_values.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_values.py b/tests/test_values.py
index 782303f..15fa90b 100644
--- a/tests/test_values.py
+++ b/tests/test_values.py
@@ -26,3 +26,9 @@ def test_empty_is_none():
 def test_other_text_stays_a_string():
     assert infer(" n/a ") == "n/a"
     assert infer("12abc") == "12abc"
+
+
+def test_floats_in_exponent_notation_without_a_point():
+    assert infer("1e5") == 100000.0
+    assert infer("-3E-2") == -0.03
+    assert infer("+4e+2") == 400.0
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout fea06ca3f2959292baff0759a86db99f2e67799e -- tests/test_values.py
