"""Tests of tinyactions.superres."""
