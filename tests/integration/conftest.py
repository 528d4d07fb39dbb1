"""Integration tests share the session's running local stack, defined in tests/conftest.py."""
