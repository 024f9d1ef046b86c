"""Tests of the inbound pipeline's dispatcher and the hooks features give it."""
