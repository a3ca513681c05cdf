"""Tests of tinyactions.devtools."""
