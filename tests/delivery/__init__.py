"""Tests of the outbound pipeline."""
