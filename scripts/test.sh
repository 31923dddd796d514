#!/usr/bin/env bash
# Runs the test suite: sets up the virtual environment when needed (scripts/setup.sh), then pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k layer -x`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
# pytest exits 5 when it collected no tests: the suite is missing or everything was deselected, and a green
# run without tests would prove nothing.
if [[ $status -eq 5 ]]; then
  echo "error: pytest collected no tests: check that tests/ exists and that the -k/-m selection matches something" >&2
  exit 1
fi
exit $status
