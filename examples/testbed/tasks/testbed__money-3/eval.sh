#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff af5ef510309073835659865240b6bb71de35aeed
git checkout af5ef510309073835659865240b6bb71de35aeed -- tests/test_money.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_money.py b/tests/test_money.py
index 7f20264..74be589 100644
--- a/tests/test_money.py
+++ b/tests/test_money.py
@@ -53,3 +53,13 @@ def test_allocate_by_uneven_ratios():
 def test_allocate_rejects_bad_ratios():
     with pytest.raises(MoneyError, match="ratios"):
         Money.of(1, "USD").allocate([0, 0])
+
+
+def test_of_rounds_half_to_even():
+    assert Money.of("0.125", "USD").minor == 12
+    assert Money.of("0.135", "USD").minor == 14
+
+
+def test_multiplication_rounds_half_to_even():
+    assert (Money.of("0.25", "USD") * "0.5").minor == 12
+    assert (Money.of("0.35", "USD") * "0.5").minor == 18
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout af5ef510309073835659865240b6bb71de35aeed -- tests/test_money.py
