#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 50717d8f97aef84d414d4f5e9dd4ba66b3abfe66
git checkout 50717d8f97aef84d414d4f5e9dd4ba66b3abfe66 -- tests/test_format.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_format.py b/tests/test_format.py
index 2eb76c2..83c51d5 100644
--- a/tests/test_format.py
+++ b/tests/test_format.py
@@ -29,3 +29,14 @@ def test_parse_garbage_is_an_error():
 def test_format_then_parse_round_trips():
     price = Money.of("9876.54", "GBP")
     assert parse_money(format_money(price), "GBP") == price
+
+
+def test_parse_symbols_of_several_letters():
+    assert parse_money("KD 1.500", "KWD").minor == 1500
+    assert parse_money("CHF 12.50", "CHF").minor == 1250
+    assert parse_money("$12.50", "USD").minor == 1250
+
+
+def test_formatted_francs_round_trip():
+    price = Money.of("1234.5", "CHF")
+    assert parse_money(format_money(price), "CHF") == price
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 50717d8f97aef84d414d4f5e9dd4ba66b3abfe66 -- tests/test_format.py
