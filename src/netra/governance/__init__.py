"""Governance: members and roles, the audit log, rate limits, retention, export and deletion."""
