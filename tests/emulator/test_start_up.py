"""devstack.stack.freeze_start_up: what start-up made is left out of full collections, its garbage is not."""

import gc
import weakref

from devstack.stack import freeze_start_up


class _Node:
    other: "_Node"


def test_start_up_garbage_is_collected_not_frozen_and_the_rest_is_frozen():
    first, second = _Node(), _Node()
    first.other, second.other = second, first  # a cycle: only the collector frees it
    garbage = weakref.ref(first)
    del first, second
    try:
        frozen = freeze_start_up()
        assert garbage() is None
        assert frozen == gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
