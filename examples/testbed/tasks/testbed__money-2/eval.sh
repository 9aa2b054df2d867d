#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 17600278933f288c323db59e80f5f9514d3ba56c
git checkout 17600278933f288c323db59e80f5f9514d3ba56c -- tests/test_money.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_money.py b/tests/test_money.py
index 7f20264..b71052e 100644
--- a/tests/test_money.py
+++ b/tests/test_money.py
@@ -53,3 +53,13 @@ def test_allocate_by_uneven_ratios():
 def test_allocate_rejects_bad_ratios():
     with pytest.raises(MoneyError, match="ratios"):
         Money.of(1, "USD").allocate([0, 0])
+
+
+def test_allocate_never_loses_or_invents_money():
+    parts = Money.of("2.00", "USD").allocate([1, 1, 1])
+    assert [p.minor for p in parts] == [67, 67, 66]
+
+
+def test_allocate_a_debt():
+    parts = Money.of("-1.00", "USD").allocate([1, 1, 1])
+    assert [p.minor for p in parts] == [-33, -33, -34]
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 17600278933f288c323db59e80f5f9514d3ba56c -- tests/test_money.py
