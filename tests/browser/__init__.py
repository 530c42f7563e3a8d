"""Tests that drive the web UI in Debian's Chromium through Playwright."""
