#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff aa19cc0f21701217ce520bbfaf21562fe3a2e488
git checkout aa19cc0f21701217ce520bbfaf21562fe3a2e488 -- tests/test_reader.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_reader.py b/tests/test_reader.py
index e174626..20f72a6 100644
--- a/tests/test_reader.py
+++ b/tests/test_reader.py
@@ -47,3 +47,10 @@ def test_long_rows_are_an_error():
 
 def test_no_text_no_records():
     assert records("") == []
+
+
+def test_errors_name_the_line_of_the_long_row():
+    with pytest.raises(CsvError, match="line 3: 3 fields"):
+        records("id,name\n1,ada\n2,bob,x\n")
+    with pytest.raises(CsvError, match="line 2: 4 fields"):
+        records("id,name\n1,ada,x,y\n")
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout aa19cc0f21701217ce520bbfaf21562fe3a2e488 -- tests/test_reader.py
