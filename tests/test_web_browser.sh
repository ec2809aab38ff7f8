#!/bin/bash
# The dashboard in headless Chromium through Selenium (tests/test_web_browser.py). The
# Python that has Debian's python3-selenium may not be the first python3 on PATH.
build=${1:?usage: test_web_browser.sh BUILD_DIR}
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c "import selenium" 2>/dev/null; then
        exec "$py" "$(dirname "$0")/test_web_browser.py" "$build"
    fi
done
echo "SKIP: no python3 with selenium (apt-get install python3-selenium chromium chromium-driver)"
exit 0
