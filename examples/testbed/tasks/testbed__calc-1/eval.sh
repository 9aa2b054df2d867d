#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff b4bfb97fb06967b11406bad94342942fb9a3e3c0
git checkout b4bfb97fb06967b11406bad94342942fb9a3e3c0 -- tests/test_parser.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_parser.py b/tests/test_parser.py
index b26a801..59ddaf2 100644
--- a/tests/test_parser.py
+++ b/tests/test_parser.py
@@ -48,3 +48,13 @@ def test_unbalanced_parentheses_are_an_error():
         evaluate("(1 + 2 3")
     with pytest.raises(CalcError, match="end of the expression"):
         evaluate("(1 + 2")
+
+
+def test_power_groups_to_the_right():
+    assert evaluate("2 ** 3 ** 2") == 512
+    assert evaluate("2 ** -1") == 0.5
+    assert evaluate("10 - 3 - 2") == 5
+
+
+def test_power_binds_tighter_than_multiplication():
+    assert evaluate("3 * 2 ** 3 ** 2") == 1536
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout b4bfb97fb06967b11406bad94342942fb9a3e3c0 -- tests/test_parser.py
