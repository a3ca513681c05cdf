"""Tests of tinyactions.core."""
