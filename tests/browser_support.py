"""Constants of the browser tests (the fixtures are in tests/conftest.py)."""

BUILD_TIMEOUT_S = 1200  # a fresh quick build executes every walkthrough (cached afterwards)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
