"""``python -m explain`` runs the ``explain`` command (see :mod:`explain.cli`).

    $ python -m explain scenes
"""

from explain.cli import run

if __name__ == "__main__":
    run()
