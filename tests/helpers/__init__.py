"""Helpers the tests share; test modules import these, never each other (a test pins that)."""
