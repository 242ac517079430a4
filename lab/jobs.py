"""Old import path of :mod:`lab.scheduler`, kept for code written against it; the lab itself imports lab.scheduler."""

from lab.scheduler import *  # noqa: F403
from lab.scheduler import __all__  # noqa: F401
