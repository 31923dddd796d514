#!/usr/bin/env bash
# Runs the test suite: sets up the virtual environment when needed (scripts/setup.sh), then pytest.
#
#   bash scripts/test.sh [PYTEST ARGUMENTS]
#
# The arguments go to pytest, e.g. `bash scripts/test.sh -k layer -x`; pytest refuses those it does not know
# (exit status 2, as every script's usage errors). pytest's own help: `bash scripts/test.sh -- --help`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --) shift ;;
esac

bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
# pytest exits 4 on a bad command line: the status of a usage error here is 2.
if [[ $status -eq 4 ]]; then
  exit 2
fi
# pytest exits 5 when it collected no tests: the suite is missing or everything was deselected, and a green
# run without tests would prove nothing.
if [[ $status -eq 5 ]]; then
  die "pytest collected no tests: check that tests/ exists and that the -k/-m selection matches something"
fi
exit $status
