#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff eab2be083ede0abfa330b008949c0ef58b343d6b
git checkout eab2be083ede0abfa330b008949c0ef58b343d6b -- tests/test_human.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_human.py b/tests/test_human.py
index e0751ab..7382f31 100644
--- a/tests/test_human.py
+++ b/tests/test_human.py
@@ -34,3 +34,13 @@ def test_format_drops_fractions_of_a_second():
 def test_parse_reads_what_format_writes():
     delta = timedelta(days=3, hours=2, minutes=7, seconds=1)
     assert parse_duration(format_duration(delta)) == delta
+
+
+def test_format_zero():
+    assert format_duration(timedelta(0)) == "0s"
+    assert format_duration(timedelta(milliseconds=400)) == "0s"
+    assert format_duration(timedelta(seconds=5)) == "5s"
+
+
+def test_zero_round_trips():
+    assert parse_duration(format_duration(timedelta(0))) == timedelta(0)
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout eab2be083ede0abfa330b008949c0ef58b343d6b -- tests/test_human.py
