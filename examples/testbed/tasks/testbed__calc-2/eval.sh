#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff a883452f94f753925ee76711fcffb42cecaf67ea
git checkout a883452f94f753925ee76711fcffb42cecaf67ea -- tests/test_parser.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_parser.py b/tests/test_parser.py
index b26a801..1c135a7 100644
--- a/tests/test_parser.py
+++ b/tests/test_parser.py
@@ -48,3 +48,13 @@ def test_unbalanced_parentheses_are_an_error():
         evaluate("(1 + 2 3")
     with pytest.raises(CalcError, match="end of the expression"):
         evaluate("(1 + 2")
+
+
+def test_unary_minus_binds_looser_than_power():
+    assert evaluate("-2 ** 2") == -4
+    assert evaluate("-x ** 2", {"x": 3}) == -9
+
+
+def test_unary_minus_binds_tighter_than_multiplication():
+    assert evaluate("-6 % 4") == 2
+    assert evaluate("-2 ** 2 * 3") == -12
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout a883452f94f753925ee76711fcffb42cecaf67ea -- tests/test_parser.py
