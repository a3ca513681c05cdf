"""Tests of tinyactions.app."""
