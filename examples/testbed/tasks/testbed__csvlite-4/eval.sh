#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 171d210eb965350bb1dc28f7a4b2cd6a30f90542
git checkout 171d210eb965350bb1dc28f7a4b2cd6a30f90542 -- tests/test_writer.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_writer.py b/tests/test_writer.py
index 6f79bec..0216397 100644
--- a/tests/test_writer.py
+++ b/tests/test_writer.py
@@ -16,3 +16,12 @@ def test_other_delimiter():
 def test_round_trip():
     rows = [["name", "note"], ["ada", "first, and best"], ["bob", "two\nlines"]]
     assert parse(format_rows(rows)) == rows
+
+
+def test_fields_with_quotes_are_quoted_and_doubled():
+    assert format_row(['say "hi"', "x"]) == '"say ""hi""",x'
+
+
+def test_quotes_round_trip():
+    rows = [["id", "quote"], ["1", 'she said "no"'], ["2", '"']]
+    assert parse(format_rows(rows)) == rows
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 171d210eb965350bb1dc28f7a4b2cd6a30f90542 -- tests/test_writer.py
