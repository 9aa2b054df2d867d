#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 83beb49888f7604f496f17616e6ae91dbfddd6ee
git checkout 83beb49888f7604f496f17616e6ae91dbfddd6ee -- tests/test_business.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_business.py b/tests/test_business.py
index 14cdb03..3096550 100644
--- a/tests/test_business.py
+++ b/tests/test_business.py
@@ -24,3 +24,14 @@ def test_between_to_a_weekend_day():
 
 def test_between_backwards_is_negative():
     assert business_days_between(date(2024, 3, 9), MONDAY) == -5
+
+
+def test_add_over_a_weekend():
+    friday = date(2024, 3, 1)
+    assert add_business_days(friday, 1) == date(2024, 3, 4)
+    assert add_business_days(friday, 6) == date(2024, 3, 11)
+
+
+def test_add_backwards_over_a_weekend():
+    assert add_business_days(MONDAY, -1) == date(2024, 3, 1)
+    assert add_business_days(date(2024, 3, 2), 1) == MONDAY
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 83beb49888f7604f496f17616e6ae91dbfddd6ee -- tests/test_business.py
