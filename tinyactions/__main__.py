"""``python -m tinyactions``: the ``tinyactions`` command without its console script."""

from tinyactions.app.cli import main

main()
