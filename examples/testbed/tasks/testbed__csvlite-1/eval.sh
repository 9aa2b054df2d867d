#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff f6eaa6bd572d6b8901692071ae9d272ae8fab323
git checkout f6eaa6bd572d6b8901692071ae9d272ae8fab323 -- tests/test_reader.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_reader.py b/tests/test_reader.py
index e174626..f522fc0 100644
--- a/tests/test_reader.py
+++ b/tests/test_reader.py
@@ -47,3 +47,12 @@ def test_long_rows_are_an_error():
 
 def test_no_text_no_records():
     assert records("") == []
+
+
+def test_doubled_quotes_inside_quotes():
+    assert parse('a,"say ""hi"""\n') == [["a", 'say "hi"']]
+    assert parse('"""",x\n') == [['"', "x"]]
+
+
+def test_doubled_quotes_next_to_a_delimiter():
+    assert parse('"a ""b"", c",d\n') == [['a "b", c', "d"]]
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout f6eaa6bd572d6b8901692071ae9d272ae8fab323 -- tests/test_reader.py
