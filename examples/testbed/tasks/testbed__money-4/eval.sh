#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff b7de092d262170950ad9e17243439c6abb01d2fc
git checkout b7de092d262170950ad9e17243439c6abb01d2fc -- tests/test_format.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_format.py b/tests/test_format.py
index 2eb76c2..f0d9e8e 100644
--- a/tests/test_format.py
+++ b/tests/test_format.py
@@ -29,3 +29,14 @@ def test_parse_garbage_is_an_error():
 def test_format_then_parse_round_trips():
     price = Money.of("9876.54", "GBP")
     assert parse_money(format_money(price), "GBP") == price
+
+
+def test_format_negative_amounts():
+    assert format_money(Money.of("-1.50", "USD")) == "-$1.50"
+    assert format_money(Money.of("-1234.05", "EUR")) == "-€1,234.05"
+    assert format_money(Money.of("1.50", "USD")) == "$1.50"
+
+
+def test_negative_amounts_round_trip():
+    refund = Money.of("-0.99", "GBP")
+    assert parse_money(format_money(refund), "GBP") == refund
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout b7de092d262170950ad9e17243439c6abb01d2fc -- tests/test_format.py
