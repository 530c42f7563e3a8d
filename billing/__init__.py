"""Prices, the append-only cost ledger, budgets, rate limits, the answer cache and cost reports."""
