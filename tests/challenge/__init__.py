"""Tests of tinyactions.challenge."""
