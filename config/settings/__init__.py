"""Settings packages: base plus thin local, test and production layers."""
