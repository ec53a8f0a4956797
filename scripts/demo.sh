#!/usr/bin/env bash
# The main job on the embedded defaults: verify the bundled example records and show the verdicts.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
for record in tests/fixtures/forms/form_*.json; do
  "$BIN/selfeval" verify "$record" > "/tmp/selfeval-demo-$$.json"
  code=$?
  "$BIN/python" - "/tmp/selfeval-demo-$$.json" "$record" "$code" <<'PY'
import json, sys
record = json.load(open(sys.argv[1], encoding="utf-8"))
failing = sorted({c["rule"] for c in record["checks"] if c["status"] != "pass" and c["severity"] == "error"})
print(f'{record["status"]:<12} {record["record_id"]}  {record["form"]["project_name"]}'
      f'  总分 {record["form"]["total_score"]}  {record["form"]["grade"]}'
      + (f'  failing: {", ".join(failing)}' if failing else ""))
PY
done
rm -f "/tmp/selfeval-demo-$$.json"
