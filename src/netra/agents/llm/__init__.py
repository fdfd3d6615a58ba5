"""Wording of the answers: the provider interface and its implementations."""
