"""Test doubles that speak real wire protocols (the fake LLM server)."""
