"""DVC stages: `python -m stages.<name>` from the repository root. Each is thin: it parses its argv, loads the
sections of params.yaml it reads (a ``Reads`` of its phases' settings models), calls one library function and
logs; none imports another."""
