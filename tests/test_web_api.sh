#!/bin/bash
# The web API end to end (tests/test_web_api.py) against real server processes.
exec python3 "$(dirname "$0")/test_web_api.py" "${1:?usage: test_web_api.sh BUILD_DIR}"
