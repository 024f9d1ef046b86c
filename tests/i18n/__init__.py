"""Tests of the catalogs and languages."""
