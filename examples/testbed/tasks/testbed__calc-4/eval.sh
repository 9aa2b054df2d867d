#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 25d32b4d3eb89837872146f876743beef7c31299
git checkout 25d32b4d3eb89837872146f876743beef7c31299 -- tests/test_parser.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_parser.py b/tests/test_parser.py
index b26a801..dc03738 100644
--- a/tests/test_parser.py
+++ b/tests/test_parser.py
@@ -48,3 +48,12 @@ def test_unbalanced_parentheses_are_an_error():
         evaluate("(1 + 2 3")
     with pytest.raises(CalcError, match="end of the expression"):
         evaluate("(1 + 2")
+
+
+def test_modulo_by_zero_is_an_error():
+    with pytest.raises(CalcError, match="division by zero"):
+        evaluate("7 % 0")
+    with pytest.raises(CalcError, match="division by zero"):
+        evaluate("7 % (2 - 2)")
+    with pytest.raises(CalcError, match="division by zero"):
+        evaluate("1 / 0")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 25d32b4d3eb89837872146f876743beef7c31299 -- tests/test_parser.py
