"""Tests of tinyactions.decide."""
