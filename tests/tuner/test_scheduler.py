"""The scheduler on a real SQLite file and the real FSDD data: studies run, retry, resume and cancel."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from bnn_errors import StorageUnavailableError
from search_spaces import FILTER_SPACE, SearchSpace, register_space, unregister_space
from tuner.execution.executor import InlineExecutor
from tuner.execution.scheduler import Scheduler
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig
from tuner.study.early_stopping import EarlyStopping
from tuner.study.submit import submit_comparison, submit_study

QUICK = StudyConfig(task="audio", space="filter", n_trials=3, epochs=1, seed=0, max_train=200)


def inline_scheduler(storage: Storage, url: str) -> Scheduler:
    return Scheduler(storage, InlineExecutor(), database_url=url, poll_seconds=0.01)


def test_study_runs_to_completion_with_curves(db: tuple[Storage, str]) -> None:
    storage, url = db
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"epochs": 2}))
    inline_scheduler(storage, url).run(until_idle=True)
    assert storage.get_study(study.id).state == "completed"
    trials = storage.trials(study.id)
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == "completed" and t.attempts == 1 for t in trials)
    curves = storage.curves(study.id)
    for trial in trials:
        epochs = {p.epoch for p in curves[trial.id]}
        assert epochs == {1, 2}
        last = {p.metric: p.value for p in curves[trial.id] if p.epoch == 2}
        # The objective is the last epoch's validation accuracy, as stored point by point.
        assert trial.objective == pytest.approx(last["val_accuracy"])
        assert set(last) >= {"train_loss", "val_accuracy", "test_accuracy", "flip_ratio", "seconds"}


def test_comparison_studies_share_replicate_seeds(db: tuple[Storage, str]) -> None:
    storage, url = db
    _, studies = submit_comparison(storage, Settings(), ComparisonConfig.of(QUICK, ["latent", "filter"], 2))
    seeds = {(s.config.space, s.replicate): s.config.seed for s in studies}
    assert seeds[("latent", 0)] == seeds[("filter", 0)] != seeds[("latent", 1)]
    inline_scheduler(storage, url).run(until_idle=True)
    assert {storage.get_study(s.id).state for s in studies} == {"completed"}


def test_a_broken_trial_fails_at_once_and_the_study_goes_on(db: tuple[Storage, str]) -> None:
    storage, url = db

    def half_broken(point: object) -> dict[str, object]:
        trial = FILTER_SPACE.build_trial(point)  # type: ignore[arg-type]
        hyper = dict(trial["hyperparameters"])  # type: ignore[call-overload]
        if hyper["alpha"] > 1e-3:  # out of the filter optimizer's range: the trainer refuses it
            hyper["alpha"] = 2.0
        return {**trial, "hyperparameters": hyper}

    space = SearchSpace(
        name="half_broken",
        optimizer="filter",
        parameters=FILTER_SPACE.parameters,
        fixed=FILTER_SPACE.fixed,
        description="the filter space, with alpha > 1e-3 sent out of range",
        to_trial=half_broken,
    )
    register_space(space)
    try:
        study = submit_study(storage, Settings(), QUICK.model_copy(update={"space": "half_broken", "n_trials": 5}))
        inline_scheduler(storage, url).run(until_idle=True)
    finally:
        unregister_space("half_broken")
    trials = storage.trials(study.id)
    failed = [t for t in trials if t.state == "failed"]
    assert len(trials) == 5 and failed, [t.parameters for t in trials]
    assert all(t.attempts == 1 and "alpha" in (t.error or "") for t in failed)
    assert storage.get_study(study.id).state == "completed"


def test_restart_resumes_without_rerunning_finished_trials(db: tuple[Storage, str]) -> None:
    storage, url = db
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"n_trials": 4, "parallelism": 2}))
    first = inline_scheduler(storage, url)
    first.tick()  # submits trials 0 and 1, runs trial 0; then the process "dies"
    before = {t.number: t for t in storage.trials(study.id)}
    assert before[0].state == "completed" and before[1].state == "running"

    inline_scheduler(storage, url).run(until_idle=True)
    after = {t.number: t for t in storage.trials(study.id)}
    assert after[0] == before[0]  # not re-run
    assert after[1].state == "abandoned"
    counted = [t for t in after.values() if t.state == "completed"]
    assert len(counted) == 4
    assert storage.get_study(study.id).state == "completed"


def test_cancel_stops_a_running_study(db: tuple[Storage, str]) -> None:
    storage, url = db
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"n_trials": 6, "parallelism": 2}))
    scheduler = inline_scheduler(storage, url)
    scheduler.tick()
    storage.set_study_state(study.id, "cancelled")
    scheduler.run(until_idle=True)
    trials = storage.trials(study.id)
    assert storage.get_study(study.id).state == "cancelled"
    assert len(trials) == 2 and {t.state for t in trials} == {"completed", "abandoned"}


def _kill_trial_worker_when_it_reports(storage: Storage, study_id: int, killed: list[int]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        trials = storage.trials(study_id)
        if trials and storage.curve(trials[0].id):
            # Only this test session's Ray (started by this process) is searched: workers of another Ray instance
            # on the machine are not children of ours and must be left alone.
            for proc in psutil.Process().children(recursive=True):
                try:
                    cmdline = proc.cmdline()
                except psutil.Error:
                    continue
                if any("_run_on_ray" in part for part in cmdline):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
            if killed:
                return
        time.sleep(0.05)


@pytest.mark.slow
def test_ray_worker_death_is_retried(db: tuple[Storage, str], ray_cluster: None) -> None:
    from tuner.execution.ray_executor import RayExecutor

    storage, url = db
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"n_trials": 1, "epochs": 6, "max_train": 2400}))
    executor = RayExecutor()
    scheduler = Scheduler(storage, executor, database_url=url, poll_seconds=0.05)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_trial_worker_when_it_reports, args=(storage, study.id, killed))
    killer.start()
    scheduler.run(until_idle=True)
    killer.join()
    assert killed, "no Ray worker was found running the trial"
    (trial,) = storage.trials(study.id)
    assert trial.state == "completed" and trial.attempts == 2, trial.error
    assert trial.node_id and trial.worker_host
    assert {p.epoch for p in storage.curve(trial.id)} == set(range(1, 7))


def test_percentile_early_stopping_stops_weak_trials(db: tuple[Storage, str]) -> None:
    storage, url = db
    rule = {"rule": "percentile", "percentile": 99, "min_trials": 2, "min_epochs": 1}
    request = QUICK.model_copy(
        update={"n_trials": 6, "epochs": 3, "early_stopping": EarlyStopping.model_validate(rule)}
    )
    study = submit_study(storage, Settings(), request)
    inline_scheduler(storage, url).run(until_idle=True)
    trials = storage.trials(study.id)
    stopped = [t for t in trials if t.state == "early_stopped"]
    assert len(trials) == 6 and stopped
    for trial in stopped:
        epochs = {p.epoch for p in storage.curve(trial.id)}
        assert max(epochs) < 3 and trial.objective is not None
    # The first two trials have no finished peers to compare with: they always run to the end.
    assert all(t.state == "completed" for t in trials[:2])
    assert storage.get_study(study.id).state == "completed"


def test_study_on_both_backends(storage_url: str) -> None:
    """A study on SQLite and on PostgreSQL: the worker writes every epoch's points through its own connection."""
    storage = Storage(storage_url)
    storage.migrate()
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"epochs": 2}))
    Scheduler(storage, InlineExecutor(), database_url=storage_url, poll_seconds=0.01).run(until_idle=True)
    assert storage.get_study(study.id).state == "completed"
    curves = storage.curves(study.id)
    assert len(curves) == 3 and all({p.epoch for p in points} == {1, 2} for points in curves.values())
    storage.close()


def _epoch_seconds(storage: Storage, trial_id: int) -> float:
    return next(p.value for p in storage.curve(trial_id) if p.metric == "seconds" and p.epoch == 1)


def test_batched_rounds_reproduce_unbatched_trials(tmp_path: Path) -> None:
    """Replicate studies of both spaces advance in lockstep as one batched model per round (latent and filter
    members together), with the trials' own results."""
    objectives: dict[bool, list[float]] = {}
    for batch in (False, True):
        url = f"sqlite:///{tmp_path / f'batch-{batch}.db'}"
        storage = Storage(url)
        storage.migrate()
        request = QUICK.model_copy(update={"n_trials": 2, "epochs": 2})
        _, studies = submit_comparison(storage, Settings(), ComparisonConfig.of(request, ["filter", "latent"], 2))
        Scheduler(storage, InlineExecutor(batch=batch), database_url=url, poll_seconds=0.01).run(until_idle=True)
        trials = [t for s in studies for t in storage.trials(s.id)]
        assert {t.state for t in trials} == {"completed"} and len(trials) == 8
        objectives[batch] = [t.objective for t in trials if t.objective is not None]
        if batch:
            # Members of one batch report the batch's wall time: trial k of every replicate of both spaces
            # trained together.
            for number in (0, 1):
                same_round = [t for t in trials if t.number == number]
                assert len({_epoch_seconds(storage, t.id) for t in same_round}) == 1
    # float32: the batched and single paths sum in different orders, so a trial may part by a validation
    # sample or two (1/150 each). These nets train 2 epochs on 200 recordings and sit near chance, where a
    # trial with tiny latent weights and a large rate (lr 0.045 on init scale 4e-4, say) flips signs chaotically
    # and amplifies that rounding: one trial of the eight may part further. The trainer tests show the paths
    # equal in float64.
    gaps = sorted(abs(a - b) for a, b in zip(objectives[True], objectives[False], strict=True))
    assert statistics.median(gaps) <= 0.005 and gaps[-2] <= 0.02, gaps


def test_a_studys_parallel_trials_train_as_one_batch(db: tuple[Storage, str]) -> None:
    storage, url = db
    study = submit_study(storage, Settings(), QUICK.model_copy(update={"n_trials": 3, "parallelism": 3}))
    Scheduler(storage, InlineExecutor(batch=True), database_url=url, poll_seconds=0.01).run(until_idle=True)
    trials = storage.trials(study.id)
    assert {t.state for t in trials} == {"completed"} and len(trials) == 3
    # the three trials in flight at once went as one batch: each reports the batch's wall time
    assert len({_epoch_seconds(storage, t.id) for t in trials}) == 1
    assert len({t.objective for t in trials}) > 1  # with their own hyperparameters


@pytest.mark.slow
def test_ray_executor_splits_a_submission_only_over_the_free_slots(
    db: tuple[Storage, str], ray_cluster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trials submitted while a batch still runs go out as one batch on the slot left free: a round whose studies come
    back at different times is not cut smaller at every round."""
    from trainers.trial import TrialSpec
    from tuner.execution import ray_executor, worker
    from tuner.execution.worker import TrialJob, TrialOutcome

    storage, url = db
    submit_study(storage, Settings(), QUICK.model_copy(update={"n_trials": 4}))
    study = storage.claim_next_queued()
    assert study is not None
    point = {"alpha": 1e-3, "gamma": 0.1}
    jobs = []
    for number in range(4):
        trial = storage.create_trial(study.id, number, point)
        spec = TrialSpec(hyperparameters=point, epochs=3, seed=number, max_train=QUICK.max_train, device="cpu")
        jobs.append(TrialJob(trial.id, study.id, number, 1, spec, "val_accuracy_last", url))
    slots_given: list[int] = []
    real_group_jobs = worker.group_jobs

    def spy(batch: list[TrialJob], **options: object) -> list[list[TrialJob]]:
        slots_given.append(int(options["slots"]))  # type: ignore[call-overload]
        return real_group_jobs(batch, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(ray_executor, "group_jobs", spy)
    executor = ray_executor.RayExecutor(batch=True)  # 2 slots on the 2-CPU test cluster
    for job in jobs[:2]:
        executor.submit(job)
    assert executor.wait(0) == [] and executor.in_flight() == 2  # two batches of one, one per slot
    for job in jobs[2:]:
        executor.submit(job)
    executor.wait(0)  # the first two still train (3 epochs take seconds): one slot is free
    assert slots_given == [2, 1]
    outcomes: list[tuple[TrialJob, TrialOutcome]] = []
    deadline = time.monotonic() + 120
    while len(outcomes) < 4 and time.monotonic() < deadline:
        outcomes += executor.wait(1.0)
    assert sorted(job.number for job, _ in outcomes) == [0, 1, 2, 3]
    assert {outcome.state for _, outcome in outcomes} == {"completed"}, [o.error for _, o in outcomes]
    seconds = [_epoch_seconds(storage, job.trial_id) for job in jobs]
    assert seconds[2] == seconds[3] and len(set(seconds)) == 3  # the last two trained as one batch


@pytest.mark.slow
@pytest.mark.parametrize(("cpus_per_trial", "batches"), [(2.0, 1), (1.0, 2)])
def test_ray_executor_splits_a_round_into_one_batch_per_slot(
    db: tuple[Storage, str], ray_cluster: None, cpus_per_trial: float, batches: int
) -> None:
    from tuner.execution.ray_executor import RayExecutor

    storage, url = db
    request = QUICK.model_copy(update={"n_trials": 1})
    _, studies = submit_comparison(storage, Settings(), ComparisonConfig.of(request, ["filter"], 3))
    # the test cluster has 2 CPUs: one slot for tasks of 2 CPUs, two for tasks of 1
    executor = RayExecutor(batch=True, num_cpus_per_trial=cpus_per_trial)
    assert executor.slots() == 2 // int(cpus_per_trial)
    Scheduler(storage, executor, database_url=url, poll_seconds=0.05).run(until_idle=True)
    trials = [t for s in studies for t in storage.trials(s.id)]
    assert {t.state for t in trials} == {"completed"}
    # the members of a batch report its wall time: one value per batch
    assert len({_epoch_seconds(storage, t.id) for t in trials}) == batches


class _DatabaseBlip(Storage):
    """The real storage, whose next ``finish_trial`` calls fail as if the database were gone for a moment."""

    failures = 0

    def finish_trial(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailableError("the database went away (injected)")
        return super().finish_trial(*args, **kwargs)


def test_an_outcome_survives_a_tick_that_fails_to_record_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blip.db'}"
    storage = _DatabaseBlip(url)
    storage.migrate()
    study = submit_study(storage, Settings(), QUICK)
    scheduler = inline_scheduler(storage, url)
    ticks_failed = 0
    armed = False
    for _ in range(2000):  # a lost outcome leaves its trial running for ever: bound the loop
        if storage.get_study(study.id).is_finished:
            break
        if not armed and storage.trials(study.id):
            storage.failures, armed = 2, True  # the first trial is running: its outcome's first two records fail
        try:
            scheduler.tick()
        except StorageUnavailableError:
            ticks_failed += 1
    assert ticks_failed == 2
    trials = storage.trials(study.id)
    assert [t.state for t in trials] == ["completed"] * QUICK.n_trials
    assert storage.get_study(study.id).state == "completed"
