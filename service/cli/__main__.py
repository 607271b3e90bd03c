"""``python -m service.cli``: the same as the ``netreach`` console script."""

from service.cli import main

main()
