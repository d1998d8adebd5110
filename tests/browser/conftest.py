"""Real-browser tests: JupyterLab on loopback driven by Chromium via Playwright."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: needs /usr/bin/chromium and playwright (tests/browser/install.sh)"
    )
