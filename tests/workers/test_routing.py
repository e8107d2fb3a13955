"""One message per command: the queues' bindings do not overlap.

Workers declare and bind their queues on start (on Redis the bindings live in Redis,
shared by every producer), so the check runs after a real worker has started.
"""

from __future__ import annotations

from tasks_service.core.settings import Settings
from tests.helpers import ProcessGroup, settings_env, with_own_broker
from workers.app import (
    COMMANDS_QUEUE,
    MAINTENANCE_QUEUE,
    QUEUES,
    TIMERS_QUEUE,
    Submitter,
    make_celery,
)


def _queue_sizes(settings: Settings) -> dict[str, int]:
    celery = make_celery(settings)
    with celery.connection_for_write() as connection, connection.channel() as channel:
        return {
            name: channel.queue_declare(name, durable=True, auto_delete=False).message_count
            for name in QUEUES
        }


def test_a_command_lands_on_the_command_queue_only(settings: Settings, tmp_path) -> None:
    own = with_own_broker(settings, tmp_path, "routing")
    group = ProcessGroup(settings_env(own), tmp_path)
    group.start_worker("worker")
    group.stop("worker")
    submitter = Submitter(own)
    for operation_id in range(1, 6):  # ids no operation has: only the messages matter
        submitter.submit(2**31 - operation_id)
    assert _queue_sizes(own) == {COMMANDS_QUEUE: 5, TIMERS_QUEUE: 0, MAINTENANCE_QUEUE: 0}
