"""`installs_once`: each devstack patch module has an `install()` that every stack (and test) calls; the
first call patches moto, botocore or Powertools, the later ones do nothing (a patch applied twice would wrap
itself)."""

import functools
import threading
from collections.abc import Callable


def installs_once(install: Callable[[], None]) -> Callable[[], None]:
    lock = threading.Lock()
    done = False

    @functools.wraps(install)
    def once() -> None:
        nonlocal done
        with lock:
            if not done:
                install()
                done = True

    return once
