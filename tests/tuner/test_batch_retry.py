"""A batch of trials on a Ray worker that dies is retried as a whole: every member gets a second attempt, and the
members train as one batch again."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.submit import submit_comparison

EPOCHS = 10
# The full FSDD training split and 10 epochs: the batch of three trains for seconds, long enough to be killed after
# its first epoch is stored and before it ends.
REQUEST = StudyConfig(task="audio", space="filter", n_trials=1, epochs=EPOCHS, seed=0, max_train=2400)


def _kill_batch_worker_when_it_reports(storage: Storage, study_ids: list[int], killed: list[int]) -> None:
    """SIGKILL the Ray worker that runs the batch once any member has stored a point.

    Only this process's descendants are searched: the Ray instance of the test session is started by this process,
    so its workers are children of its raylet, while workers of other Ray instances on the machine are not.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        trials = [t for study_id in study_ids for t in storage.trials(study_id)]
        if any(storage.curve(t.id) for t in trials):
            for proc in psutil.Process().children(recursive=True):
                try:
                    running = any("_run_on_ray" in part for part in proc.cmdline())
                except psutil.Error:
                    continue  # ended while we looked
                if running:
                    proc.kill()
                    killed.append(proc.pid)
            if killed:
                return
        time.sleep(0.05)


def _epoch_seconds(storage: Storage, trial_id: int) -> dict[int, float]:
    return {p.epoch: p.value for p in storage.curve(trial_id) if p.metric == "seconds"}


@pytest.mark.slow
def test_a_batch_on_a_dying_worker_is_retried_as_a_whole(db: tuple[Storage, str], ray_cluster: None) -> None:
    from tuner.execution.ray_executor import RayExecutor

    storage, url = db
    _, studies = submit_comparison(storage, Settings(), ComparisonConfig.of(REQUEST, ["filter"], 3))
    # tasks of both CPUs of the test cluster: one slot, so the round of three is one batch
    executor = RayExecutor(batch=True, num_cpus_per_trial=2)
    scheduler = Scheduler(storage, executor, database_url=url, poll_seconds=0.05)
    killed: list[int] = []
    study_ids = [s.id for s in studies]
    killer = threading.Thread(target=_kill_batch_worker_when_it_reports, args=(storage, study_ids, killed))
    killer.start()
    scheduler.run(until_idle=True)
    killer.join()

    assert len(killed) == 1, f"expected one Ray worker running the batch, killed {killed}"
    trials = [t for study_id in study_ids for t in storage.trials(study_id)]
    assert len(trials) == 3
    for trial in trials:
        assert trial.state == "completed" and trial.attempts == 2, (trial.state, trial.attempts, trial.error)
        assert trial.worker_host and trial.node_id
        assert {p.epoch for p in storage.curve(trial.id)} == set(range(1, EPOCHS + 1))
    assert len({t.node_id for t in trials}) == 1
    # Every stored point is the second attempt's (a retry overwrites each epoch), and the members of one batch report
    # the batch's wall time: equal seconds at every epoch mean the retried members trained together again.
    seconds = [_epoch_seconds(storage, t.id) for t in trials]
    assert seconds[0] == seconds[1] == seconds[2]
    assert {storage.get_study(study_id).state for study_id in study_ids} == {"completed"}
