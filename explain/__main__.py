"""``python -m explain`` runs the ``explain`` command (see :mod:`explain.cli`).

    $ python -m explain scenes
"""

import sys

from explain.cli import main

sys.exit(main())
