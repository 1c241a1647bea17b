"""devstack.ids: the local stack's request ids have a uuid4's form and never repeat."""

import subprocess
import sys
import threading
import uuid

from devstack.ids import request_id


def test_request_ids_are_uuid4s_that_never_repeat_across_threads() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(request_id() for _ in range(1000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 4000
    assert all(str(uuid.UUID(made_id)) == made_id and uuid.UUID(made_id).version == 4 for made_id in made)


def test_another_process_makes_other_ids() -> None:
    def first_id_of_a_new_process() -> str:  # each at the same count: only the random part can differ
        return subprocess.run(
            [sys.executable, "-c", "from devstack.ids import request_id; print(request_id())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    one, other = first_id_of_a_new_process(), first_id_of_a_new_process()
    assert uuid.UUID(one).version == 4 and one != other
