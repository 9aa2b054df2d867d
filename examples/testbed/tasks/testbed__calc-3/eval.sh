#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff bde9efbf175d0eb46d1a521376a6c89fa2952b46
git checkout bde9efbf175d0eb46d1a521376a6c89fa2952b46 -- tests/test_tokens.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_tokens.py b/tests/test_tokens.py
index e84625d..3db7110 100644
--- a/tests/test_tokens.py
+++ b/tests/test_tokens.py
@@ -15,3 +15,14 @@ def test_parentheses_and_operators():
 def test_unknown_character_is_an_error():
     with pytest.raises(CalcError, match="unexpected character '\\$'"):
         tokenize("1 + $")
+
+
+def test_power_is_one_token():
+    assert [t.text for t in tokenize("2**3 * 4")] == ["2", "**", "3", "*", "4"]
+
+
+def test_evaluate_power():
+    from calc import evaluate
+
+    assert evaluate("2 ** 10") == 1024
+    assert evaluate("7 % 3 * 2") == 2
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout bde9efbf175d0eb46d1a521376a6c89fa2952b46 -- tests/test_tokens.py
