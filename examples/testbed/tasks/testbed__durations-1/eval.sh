#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff cc0f01e829f21e5af8a6729ad79b03539d634167
git checkout cc0f01e829f21e5af8a6729ad79b03539d634167 -- tests/test_human.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_human.py b/tests/test_human.py
index e0751ab..6956d3c 100644
--- a/tests/test_human.py
+++ b/tests/test_human.py
@@ -34,3 +34,13 @@ def test_format_drops_fractions_of_a_second():
 def test_parse_reads_what_format_writes():
     delta = timedelta(days=3, hours=2, minutes=7, seconds=1)
     assert parse_duration(format_duration(delta)) == delta
+
+
+def test_weeks_have_seven_days():
+    assert parse_duration("2w") == timedelta(weeks=2)
+    assert parse_duration("1w 1d") == timedelta(days=8)
+
+
+def test_format_whole_weeks():
+    assert format_duration(timedelta(days=7)) == "1w"
+    assert format_duration(timedelta(days=12)) == "1w 5d"
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout cc0f01e829f21e5af8a6729ad79b03539d634167 -- tests/test_human.py
