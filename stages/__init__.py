"""DVC stages: `python -m stages.<name>` from the repository root. Each is thin: it parses its argv, loads
the validated settings (tinyactions.settings), calls one library function and logs; none imports another."""
