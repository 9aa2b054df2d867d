#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 312db1f276ee7efe0c52db03eaec7d73c94588ef
git checkout 312db1f276ee7efe0c52db03eaec7d73c94588ef -- tests/test_parser.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_parser.py b/tests/test_parser.py
index b26a801..05cd3ef 100644
--- a/tests/test_parser.py
+++ b/tests/test_parser.py
@@ -48,3 +48,13 @@ def test_unbalanced_parentheses_are_an_error():
         evaluate("(1 + 2 3")
     with pytest.raises(CalcError, match="end of the expression"):
         evaluate("(1 + 2")
+
+
+def test_unexpected_token_column_is_counted_from_one():
+    with pytest.raises(CalcError, match="unexpected '\\*' at column 5"):
+        evaluate("2 * * 3")
+
+
+def test_trailing_token_column_is_counted_from_one():
+    with pytest.raises(CalcError, match="unexpected '3' at column 9"):
+        evaluate("(1 + 2) 3")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 312db1f276ee7efe0c52db03eaec7d73c94588ef -- tests/test_parser.py
