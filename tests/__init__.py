"""Cross-app tests and test helpers (isolation sweep, fake servers)."""
