#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff b90f4cfea9ca9e71eca42b21fa41018748b24885
git checkout b90f4cfea9ca9e71eca42b21fa41018748b24885 -- tests/test_reader.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_reader.py b/tests/test_reader.py
index e174626..a5b6c70 100644
--- a/tests/test_reader.py
+++ b/tests/test_reader.py
@@ -47,3 +47,13 @@ def test_long_rows_are_an_error():
 
 def test_no_text_no_records():
     assert records("") == []
+
+
+def test_last_line_ending_with_an_empty_field():
+    assert parse("a,b\n1,") == [["a", "b"], ["1", ""]]
+    assert parse("x,y,") == [["x", "y", ""]]
+    assert parse("a\nb") == [["a"], ["b"]]
+
+
+def test_records_keep_a_last_row_with_an_empty_last_field():
+    assert records("id,name\n1,ada\n2,") == [{"id": "1", "name": "ada"}, {"id": "2", "name": ""}]
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout b90f4cfea9ca9e71eca42b21fa41018748b24885 -- tests/test_reader.py
