"""Tenants, memberships and roles, tiers with quotas, users and hashed API keys."""
