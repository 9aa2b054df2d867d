#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 743ce39646b6cc6d884ba4a5c219e40daf383aa8
git checkout 743ce39646b6cc6d884ba4a5c219e40daf383aa8 -- tests/test_business.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_business.py b/tests/test_business.py
index 14cdb03..bde0aa6 100644
--- a/tests/test_business.py
+++ b/tests/test_business.py
@@ -24,3 +24,12 @@ def test_between_to_a_weekend_day():
 
 def test_between_backwards_is_negative():
     assert business_days_between(date(2024, 3, 9), MONDAY) == -5
+
+
+def test_between_within_a_week():
+    assert business_days_between(MONDAY, date(2024, 3, 8)) == 4
+    assert business_days_between(MONDAY, MONDAY) == 0
+
+
+def test_between_from_a_sunday():
+    assert business_days_between(date(2024, 3, 3), date(2024, 3, 8)) == 4
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 743ce39646b6cc6d884ba4a5c219e40daf383aa8 -- tests/test_business.py
