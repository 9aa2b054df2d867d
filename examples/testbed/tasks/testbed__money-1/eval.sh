#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 7998a0cf9ac4441ad29831fea73c433f294281f9
git checkout 7998a0cf9ac4441ad29831fea73c433f294281f9 -- tests/test_money.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_money.py b/tests/test_money.py
index 7f20264..8b8a0e8 100644
--- a/tests/test_money.py
+++ b/tests/test_money.py
@@ -53,3 +53,15 @@ def test_allocate_by_uneven_ratios():
 def test_allocate_rejects_bad_ratios():
     with pytest.raises(MoneyError, match="ratios"):
         Money.of(1, "USD").allocate([0, 0])
+
+
+def test_yen_has_no_minor_unit():
+    assert Money.of("1500", "JPY").minor == 1500
+    assert Money.of("1500", "JPY").amount == 1500
+
+
+def test_yen_is_formatted_without_decimals():
+    from money import format_money, parse_money
+
+    assert format_money(Money.of(1500, "JPY")) == "¥1,500"
+    assert parse_money("¥1,500", "JPY").minor == 1500
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 7998a0cf9ac4441ad29831fea73c433f294281f9 -- tests/test_money.py
