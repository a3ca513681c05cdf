"""Tests of tinyactions.data."""
