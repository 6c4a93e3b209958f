"""Helpers shared by test files (a local HTTP server)."""
