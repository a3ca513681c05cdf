"""Tests of tinyactions.score."""
