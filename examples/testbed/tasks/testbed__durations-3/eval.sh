#!/bin/bash
set -uxo pipefail
cd /testbed
git status --short
git -c core.fileMode=false diff 87f4ac1a2d5f5dae76a0522474ae6f61bf6b23da
git checkout 87f4ac1a2d5f5dae76a0522474ae6f61bf6b23da -- tests/test_iso.py
git apply -v - <<'EOF_SWE_SEARCH_TEST_PATCH' || { echo "the test patch does not apply" >&2; exit 2; }
diff --git a/tests/test_iso.py b/tests/test_iso.py
index cb9b91d..ab2c28b 100644
--- a/tests/test_iso.py
+++ b/tests/test_iso.py
@@ -23,3 +23,9 @@ def test_rejects_years_months_and_empty_parts():
     for text in ("P1Y", "P1M", "P", "PT", "P1DT", "1D"):
         with pytest.raises(DurationError, match="not an ISO 8601 duration"):
             parse_iso(text)
+
+
+def test_decimal_comma_in_seconds():
+    assert parse_iso("PT0,5S") == timedelta(milliseconds=500)
+    assert parse_iso("PT1M2,25S") == timedelta(minutes=1, seconds=2.25)
+    assert parse_iso("PT0.5S") == timedelta(milliseconds=500)
EOF_SWE_SEARCH_TEST_PATCH
: '>>>>> Start Test Output'
python3 -m pytest -rA -p no:cacheprovider tests
: '>>>>> End Test Output'
git checkout 87f4ac1a2d5f5dae76a0522474ae6f61bf6b23da -- tests/test_iso.py
