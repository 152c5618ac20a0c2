"""The scheduler loop: claim queued studies, keep each one's trials in flight, record how they end.

For every running study it keeps up to ``parallelism`` trials in flight: ask the Ax adapter for the next
parameterization, write the trial row (running), submit the attempt to the executor. When an attempt ends it
completes the trial in our tables and in Ax; a worker that died is retried with the same parameters up to
``max_trial_retries`` times, then the trial is failed; a diverged or otherwise broken trial fails at once. A study
completes once ``n_trials`` trials have ended (completed or failed), and fails if none of them completed.

Our tables are the source of truth. On start the scheduler resumes studies left running by an earlier process:
their finished trials are kept, trials that were in flight are marked abandoned (their points stay stored) and
replaced by new trials, and the Ax state is rebuilt from the stored rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from bnn_errors import BnnTuneError, ConflictError
from search_spaces import SearchSpace, get_space
from trainers.layers import BinaryOptions
from trainers.trial import TrialSpec
from tuner.bo.adapters import Adapter, new_adapter
from tuner.bo.history import HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest
from tuner.execution.executor import Executor
from tuner.execution.worker import TrialJob, TrialOutcome
from tuner.storage import Storage, StudyRecord, TrialRecord
from tuner.study.config import StudyConfig
from tuner.study.states import COUNTED_TRIAL_STATES, StudyState, TrialState

__all__ = ["Scheduler", "trial_seed", "trial_spec"]

log = logging.getLogger(__name__)

# The Sobol initialization budget per study, before the GP takes over (capped by the study's n_trials).
N_INITIAL = 5


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number``: distinct per trial, equal across spaces for the same study seed."""
    return (study_seed * 1009 + number) % (2**31)


@dataclass
class _ActiveStudy:
    record: StudyRecord
    space: SearchSpace
    adapter: Adapter
    next_number: int
    ended: int
    succeeded: int
    in_flight: dict[int, TrialJob] = field(default_factory=dict)

    @property
    def config(self) -> StudyConfig:
        return self.record.config

    @property
    def done(self) -> bool:
        return self.ended >= self.config.n_trials and not self.in_flight


class Scheduler:
    """Runs studies from the database on an executor; see the module docstring.

    Args:
        storage: where studies, trials and curves live.
        executor: where trial attempts run.
        database_url: the URL workers use to write curve points (the same database as ``storage``).
        max_trial_retries: how often an attempt whose worker died is tried again.
        max_concurrent_studies: how many studies run at once; more wait, queued.
        poll_seconds: how long one :meth:`tick` waits for attempts to end.
        data_dir: the data root passed to the trainer (None: its own lookup).
        suggestion_workers: processes that compute the next trials of studies run one trial at a time
            (``parallelism`` 1, as in a comparison) in parallel; 0 asks each study's adapter in turn, here.
    """

    def __init__(
        self,
        storage: Storage,
        executor: Executor,
        *,
        database_url: str,
        max_trial_retries: int = 2,
        max_concurrent_studies: int = 100,
        poll_seconds: float = 0.5,
        data_dir: str | None = None,
        suggestion_workers: int = 0,
    ) -> None:
        self.storage = storage
        self.executor = executor
        self.database_url = database_url
        self.max_trial_retries = max_trial_retries
        self.max_concurrent_studies = max_concurrent_studies
        self.poll_seconds = poll_seconds
        self.data_dir = data_dir
        self._active: dict[int, _ActiveStudy] = {}
        self._resumed = False
        self._suggestions = SuggestionPool(suggestion_workers) if suggestion_workers > 0 else None
        self._unrecorded: deque[tuple[TrialJob, TrialOutcome]] = deque()
        self.last_error: str | None = None

    # -- the loop ----------------------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until_idle: bool = False,
        studies: Collection[int] | None = None,
        on_tick: Callable[[], None] | None = None,
        idle_seconds: float = 0.0,
        retry_seconds: float | None = None,
    ) -> None:
        """The scheduler's one loop: tick until ``stop`` is set, or until the work asked for is done.

        Args:
            stop: ends the loop after the tick in progress (the service's shutdown).
            until_idle: return once no study is queued or running.
            studies: return once every one of these studies has finished (a command's own work).
            on_tick: called after every tick (a progress bar).
            idle_seconds: how long to wait after a tick that found no work, before the next.
            retry_seconds: where set, a tick that raises is logged, kept in :attr:`last_error` and tried again after
                this pause (a long-running service outlives a database outage); unset, the error propagates.
        """
        remaining = None if studies is None else set(studies)
        while stop is None or not stop.is_set():
            try:
                busy = self.tick()
            except Exception as error:
                if retry_seconds is None:
                    raise
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("a scheduler tick failed; trying again in %.0f s", retry_seconds)
                _pause(stop, retry_seconds)
                continue
            self.last_error = None
            if on_tick is not None:
                on_tick()
            if until_idle and not busy:
                return
            if remaining is not None:
                remaining = {i for i in remaining if not self.storage.get_study(i).is_finished}
                if not remaining:
                    return
            if not busy and idle_seconds > 0:
                _pause(stop, idle_seconds)

    def tick(self) -> bool:
        """One round: resume, claim, fill, wait for attempts, record them. Returns whether work remains."""
        if not self._resumed:
            self._resume()
            self._resumed = True
        self._claim()
        self._drop_cancelled()
        asked = self._fill_in_parallel()
        for study in list(self._active.values()):
            if study.record.id not in asked:
                self._fill(study)
        # An outcome taken from the executor is kept until it is recorded: a tick that fails while recording (the
        # database gone for a moment) would otherwise lose it, and its trial would stay running for ever.
        self._unrecorded.extend(self.executor.wait(self.poll_seconds))
        while self._unrecorded:
            job, outcome = self._unrecorded[0]
            self._record(job, outcome)
            self._unrecorded.popleft()
        for study in list(self._active.values()):
            if study.done:
                self._finish(study)
        return bool(self._active) or self.storage.count_studies(state=StudyState.QUEUED) > 0

    def close(self) -> None:
        """Stop the suggestion workers, if any (the executor is the caller's to shut down)."""
        if self._suggestions is not None:
            self._suggestions.close()

    # -- studies -----------------------------------------------------------------------------------------

    def _resume(self) -> None:
        for record in self.storage.list_studies(state=StudyState.RUNNING, limit=1000):
            self._guard(record, lambda r=record: self._activate(r, resumed=True))  # type: ignore[misc]

    def _claim(self) -> None:
        while len(self._active) < self.max_concurrent_studies:
            record = self.storage.claim_next_queued()
            if record is None:
                return
            self._guard(record, lambda r=record: self._activate(r, resumed=False))  # type: ignore[misc]

    def _guard(self, record: StudyRecord, action: Callable[[], None]) -> None:
        """Run a study-level action; an error we raise on purpose fails that study, not the scheduler."""
        try:
            action()
        except BnnTuneError as exc:
            self._fail_study(record.id, str(exc))

    def _fail_study(self, study_id: int, reason: str) -> None:
        log.warning("study %s failed: %s", study_id, reason)
        self._abandon_in_flight(study_id, reason=reason)
        self.storage.set_study_state(study_id, StudyState.FAILED, error=reason)

    def _activate(self, record: StudyRecord, *, resumed: bool) -> None:
        config = record.config
        space = get_space(config.space)
        trials = self.storage.trials(record.id) if resumed else []
        orphans = [t for t in trials if t.state is TrialState.RUNNING]
        for trial in orphans:
            self.storage.finish_trial(
                trial.id,
                TrialState.ABANDONED,
                error="the scheduler stopped while this trial ran; re-run as a new trial",
            )
        if orphans:
            trials = self.storage.trials(record.id)
        history = [_history(t) for t in trials]
        # A random-search arm is Ax's Sobol sequence for every trial: the baseline that BO has to beat.
        n_initial = config.n_trials if config.strategy == "random" else min(N_INITIAL, config.n_trials)
        adapter = new_adapter(config.suggester, space, seed=config.seed, n_initial=n_initial, history=history)
        self._active[record.id] = _ActiveStudy(
            record=record,
            space=space,
            adapter=adapter,
            next_number=len(trials),
            ended=sum(t.state in COUNTED_TRIAL_STATES for t in trials),
            succeeded=sum(t.state.has_objective for t in trials),
        )

    def _drop_cancelled(self) -> None:
        for study_id in list(self._active):
            if self.storage.get_study(study_id).state is StudyState.CANCELLED:
                self._abandon_in_flight(study_id, reason="the study was cancelled")

    def _abandon_in_flight(self, study_id: int, reason: str) -> None:
        """Stop and abandon the study's in-flight trials, and stop running the study."""
        study = self._active.pop(study_id, None)
        if study is None:
            return
        for trial_id in list(study.in_flight):
            self.executor.cancel(trial_id)
            self.storage.finish_trial(trial_id, TrialState.ABANDONED, error=reason)
        study.in_flight.clear()

    def _finish(self, study: _ActiveStudy) -> None:
        del self._active[study.record.id]
        try:
            if study.succeeded == 0:
                self.storage.set_study_state(
                    study.record.id, StudyState.FAILED, error=f"none of its {study.ended} trials completed"
                )
            else:
                self.storage.set_study_state(study.record.id, StudyState.COMPLETED)
        except ConflictError:
            log.info("study %s was cancelled while its last trials ended", study.record.id)

    # -- trials ------------------------------------------------------------------------------------------

    def _fill(self, study: _ActiveStudy) -> None:
        config = study.config
        while len(study.in_flight) < config.parallelism and study.ended + len(study.in_flight) < config.n_trials:
            try:
                suggestions = study.adapter.suggest(1)
            except BnnTuneError as exc:
                self._fail_study(study.record.id, f"no trial could be suggested: {exc}")
                return
            if not suggestions:
                return  # Ax waits for results of the initialization trials
            index, parameters = suggestions[0]
            self._start_trial(study, index, parameters)

    def _fill_in_parallel(self) -> set[int]:
        """Ask the suggestion pool for the next trial of every study that runs one trial at a time and has none in
        flight; start those trials. Returns the ids of the studies asked (their adapters only record, from then on
        every suggestion of theirs comes from the pool, so that Ax's Sobol position stays the history's length)."""
        if self._suggestions is None:
            return set()
        waiting = [
            study
            for study in self._active.values()
            if study.config.parallelism == 1 and not study.in_flight and study.ended < study.config.n_trials
        ]
        requests: dict[int, SuggestionRequest] = {}
        for study in waiting:
            history = [_history(t) for t in self.storage.trials(study.record.id)]
            requests[study.record.id] = SuggestionRequest.of(
                study.config.space,
                seed=study.config.seed,
                n_initial=study.adapter.n_initial,
                objective=study.adapter.objective,
                history=history,
                suggester=study.config.suggester,
            )
        for study_id, answer in self._suggestions.suggest(requests).items():
            study = self._active[study_id]
            if isinstance(answer, BnnTuneError):
                self._fail_study(study_id, f"no trial could be suggested: {answer}")
            elif answer is not None:
                try:
                    index = study.adapter.attach(answer)
                except BnnTuneError as exc:
                    self._fail_study(study_id, f"a suggested trial could not be recorded: {exc}")
                    continue
                self._start_trial(study, index, answer)
        return set(requests)

    def _start_trial(self, study: _ActiveStudy, index: int, parameters: dict[str, object]) -> None:
        """Write the trial row (running) and submit its first attempt."""
        record = study.record
        trial = self.storage.create_trial(record.id, index, parameters)
        study.next_number = index + 1
        job = TrialJob(
            trial_id=trial.id,
            study_id=record.id,
            number=trial.number,
            attempt=1,
            spec=trial_spec(record.config, study.space, parameters, trial.number, data_dir=self.data_dir),
            objective=record.config.objective,
            database_url=self.database_url,
            early_stopping=record.config.early_stopping,
            folds=record.config.folds,
            repeats=record.config.repeats,
        )
        study.in_flight[trial.id] = job
        self.executor.submit(job)

    def _record(self, job: TrialJob, outcome: TrialOutcome) -> None:
        study = self._active.get(job.study_id)
        if study is None or job.trial_id not in study.in_flight:
            return  # the study was cancelled or failed while the attempt ran
        self.storage.set_worker(job.trial_id, outcome.worker_host, outcome.node_id)
        # Every branch writes to the database before it changes what this process holds: a write that fails leaves
        # the outcome to be recorded again by the next tick, from the same state.
        if outcome.state == TrialState.COMPLETED and outcome.objective is not None:
            self.storage.finish_trial(
                job.trial_id, TrialState.COMPLETED, objective=outcome.objective, objective_sem=outcome.objective_sem
            )
            del study.in_flight[job.trial_id]
            study.adapter.complete(job.number, outcome.objective, sem=outcome.objective_sem)
            study.ended += 1
            study.succeeded += 1
            return
        if outcome.state == TrialState.EARLY_STOPPED and outcome.objective is not None:
            curve = [p.value for p in self.storage.curve(job.trial_id) if p.metric == "val_accuracy"]
            self.storage.finish_trial(job.trial_id, TrialState.EARLY_STOPPED, objective=outcome.objective)
            del study.in_flight[job.trial_id]
            study.adapter.early_stopped(job.number, curve)
            study.ended += 1
            study.succeeded += 1
            return
        if outcome.retryable and job.attempt <= self.max_trial_retries:
            log.info("retrying trial %s of study %s: %s", job.number, job.study_id, outcome.error)
            self.storage.increment_attempts(job.trial_id)
            retry = TrialJob(**{**job.__dict__, "attempt": job.attempt + 1})
            study.in_flight[job.trial_id] = retry
            self.executor.submit(retry)
            return
        reason = outcome.error or "the trial failed"
        if outcome.retryable:
            reason = f"{reason} (after {job.attempt} attempts)"
        self.storage.finish_trial(job.trial_id, TrialState.FAILED, error=reason)
        del study.in_flight[job.trial_id]
        study.adapter.fail(job.number, reason)
        study.ended += 1


def trial_spec(
    config: StudyConfig,
    space: SearchSpace,
    parameters: Mapping[str, object],
    number: int,
    *,
    data_dir: str | None = None,
) -> TrialSpec:
    """What trial ``number`` of a study with ``config`` trains at the point ``parameters`` of ``space``.

    The members (folds x repeats) are derived from it where the trial runs (``TrialJob.members``).

    Raises:
        ValueError: ``parameters`` is not a point of ``space``.
    """
    arguments = space.build_trial(dict(parameters))
    binary = arguments["binary"]
    hyperparameters = arguments["hyperparameters"]
    assert isinstance(binary, dict) and isinstance(hyperparameters, dict)
    return TrialSpec(
        task=config.task,
        optimizer=str(arguments["optimizer"]),
        hyperparameters={k: float(v) for k, v in hyperparameters.items()},
        binary=BinaryOptions(**binary),
        decay=str(arguments["decay"]),
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=trial_seed(config.seed, number),
        width=config.width,
        real_lr=config.real_lr,
        max_train=config.max_train,
        data_dir=data_dir,
    )


def _pause(stop: threading.Event | None, seconds: float) -> None:
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


def _history(trial: TrialRecord) -> HistoryTrial:
    return HistoryTrial(
        number=trial.number,
        parameters=trial.parameters,
        state=trial.state,
        objective=trial.objective,
        sem=trial.objective_sem,
    )
