"""The scanner service."""
