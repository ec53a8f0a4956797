#!/usr/bin/env bash
# The main job on the embedded defaults: start everything (`selfeval up`: embedded NATS, a local
# Prefect server, the three services, the watcher, the API), drop the sample scans into the inbox,
# and print the verified JSON records that come out. In a terminal it then keeps running so the
# Prefect UI can be explored; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export SELFEVAL_HOME=${SELFEVAL_HOME:-var}
export PREFECT_SERVER_ANALYTICS_ENABLED=false
mkdir -p "$SELFEVAL_HOME"
UP_LOG="$SELFEVAL_HOME/up.log"

"$BIN/selfeval" up > "$UP_LOG" 2>&1 &
UP_PID=$!
stop() { kill -TERM "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM

echo "starting selfeval (NATS, Prefect, services, watcher, API) …"
for _ in $(seq 1 240); do
  grep -q "^ready:" "$UP_LOG" && break
  if ! kill -0 "$UP_PID" 2>/dev/null; then cat "$UP_LOG"; echo "selfeval up failed" >&2; exit 1; fi
  sleep 1
done
grep -q "^ready:" "$UP_LOG" || { cat "$UP_LOG"; echo "selfeval up did not get ready" >&2; exit 1; }
grep -E "^(NATS|Prefect UI|API docs|Inbox|Outbox|Logs) " "$UP_LOG"
echo
echo "submitting the sample scans and waiting for their records …"
status=0
"$BIN/selfeval" submit --wait samples/*.pdf samples/*.jpg samples/*.tiff || status=$?
echo
echo "the verified records:"
"$BIN/selfeval" tail --status verified --json --idle 3 | "$BIN/python" -m json.tool --no-ensure-ascii --json-lines
if [ -t 0 ] && [ -t 1 ]; then
  echo
  grep -E "^Prefect UI" "$UP_LOG"
  echo "selfeval keeps running: drop more scans into $SELFEVAL_HOME/inbox; Ctrl-C stops everything."
  wait "$UP_PID" || true
fi
exit "$status"
