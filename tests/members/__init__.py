"""Tests of members across channels."""
