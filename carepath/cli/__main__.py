"""``python -m carepath.cli``: the same commands as the ``carepath`` script."""

import sys

from carepath.cli import cli

if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
