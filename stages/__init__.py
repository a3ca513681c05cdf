"""DVC stages: `python -m stages.<name>` from the repository root. Each reads its params, calls the
library, writes its outputs atomically and logs."""
