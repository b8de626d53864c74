"""Instructor-side tools run in the development environment (they may use torch)."""
