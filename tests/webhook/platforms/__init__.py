"""Tests of the platform webhooks."""
