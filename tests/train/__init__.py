"""Tests of tinyactions.train."""
