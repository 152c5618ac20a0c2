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
from collections.abc import Callable
from dataclasses import dataclass, field

from bnn_errors import BnnTuneError, ConflictError
from search_spaces import SearchSpace, get_space
from trainers.layers import BinaryOptions
from trainers.trial import TrialSpec
from tuner.bo.ax_adapter import AxAdapter, HistoryTrial
from tuner.bo.suggestions import SuggestionPool, SuggestionRequest
from tuner.execution.executor import Executor
from tuner.execution.worker import TrialJob, TrialOutcome
from tuner.storage import Storage, StudyRecord, TrialRecord

__all__ = ["Scheduler", "trial_seed"]

log = logging.getLogger(__name__)

# Ax's Sobol initialization budget per study, before BoTorch takes over (capped by the study's n_trials).
N_INITIAL = 5
# A trial counts towards a study's budget once it has ended in one of these states.
COUNTED_STATES = frozenset({"completed", "failed", "early_stopped"})


def trial_seed(study_seed: int, number: int) -> int:
    """The training seed of trial ``number``: distinct per trial, equal across spaces for the same study seed."""
    return (study_seed * 1009 + number) % (2**31)


@dataclass
class _ActiveStudy:
    record: StudyRecord
    space: SearchSpace
    adapter: AxAdapter
    next_number: int
    ended: int
    succeeded: int
    in_flight: dict[int, TrialJob] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.ended >= self.record.n_trials and not self.in_flight


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

    # -- the loop ----------------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, until_idle: bool = False) -> None:
        """Tick until ``stop`` is set, or (``until_idle``) until no study is queued or running."""
        while stop is None or not stop.is_set():
            busy = self.tick()
            if until_idle and not busy:
                return

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
        for job, outcome in self.executor.wait(self.poll_seconds):
            self._record(job, outcome)
        for study in list(self._active.values()):
            if study.done:
                self._finish(study)
        return bool(self._active) or self.storage.count_studies(state="queued") > 0

    def close(self) -> None:
        """Stop the suggestion workers, if any (the executor is the caller's to shut down)."""
        if self._suggestions is not None:
            self._suggestions.close()

    def active_studies(self) -> list[int]:
        """Ids of the studies this scheduler is running now."""
        return list(self._active)

    # -- studies -----------------------------------------------------------------------------------------

    def _resume(self) -> None:
        for record in self.storage.list_studies(state="running", limit=1000):
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
        self.storage.set_study_state(study_id, "failed", error=reason)

    def _activate(self, record: StudyRecord, *, resumed: bool) -> None:
        space = get_space(record.space)
        trials = self.storage.trials(record.id) if resumed else []
        orphans = [t for t in trials if t.state == "running"]
        for trial in orphans:
            self.storage.finish_trial(
                trial.id,
                "abandoned",
                error="the scheduler stopped while this trial ran; re-run as a new trial",
            )
        if orphans:
            trials = self.storage.trials(record.id)
        history = [_history(t) for t in trials]
        n_initial = min(N_INITIAL, record.n_trials)
        if history:
            adapter = AxAdapter.rebuild(space, seed=record.seed, n_initial=n_initial, history=history)
        else:
            adapter = AxAdapter(space, seed=record.seed, n_initial=n_initial)
        self._active[record.id] = _ActiveStudy(
            record=record,
            space=space,
            adapter=adapter,
            next_number=len(trials),
            ended=sum(t.state in COUNTED_STATES for t in trials),
            succeeded=sum(t.state in ("completed", "early_stopped") for t in trials),
        )

    def _drop_cancelled(self) -> None:
        for study_id in list(self._active):
            if self.storage.get_study(study_id).state == "cancelled":
                self._abandon_in_flight(study_id, reason="the study was cancelled")

    def _abandon_in_flight(self, study_id: int, reason: str) -> None:
        """Stop and abandon the study's in-flight trials, and stop running the study."""
        study = self._active.pop(study_id, None)
        if study is None:
            return
        for trial_id in list(study.in_flight):
            self.executor.cancel(trial_id)
            self.storage.finish_trial(trial_id, "abandoned", error=reason)
        study.in_flight.clear()

    def _finish(self, study: _ActiveStudy) -> None:
        del self._active[study.record.id]
        try:
            if study.succeeded == 0:
                self.storage.set_study_state(
                    study.record.id, "failed", error=f"none of its {study.ended} trials completed"
                )
            else:
                self.storage.set_study_state(study.record.id, "completed")
        except ConflictError:
            log.info("study %s was cancelled while its last trials ended", study.record.id)

    # -- trials ------------------------------------------------------------------------------------------

    def _fill(self, study: _ActiveStudy) -> None:
        record = study.record
        while len(study.in_flight) < record.parallelism and study.ended + len(study.in_flight) < record.n_trials:
            try:
                suggestions = study.adapter.suggest(1)
            except BnnTuneError as exc:
                self._fail_study(record.id, f"the Ax adapter could not suggest a trial: {exc}")
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
            if study.record.parallelism == 1 and not study.in_flight and study.ended < study.record.n_trials
        ]
        requests: dict[int, SuggestionRequest] = {}
        for study in waiting:
            history = [_history(t) for t in self.storage.trials(study.record.id)]
            requests[study.record.id] = SuggestionRequest.of(
                study.record.space,
                seed=study.record.seed,
                n_initial=study.adapter.n_initial,
                objective=study.adapter.objective,
                history=history,
            )
        for study_id, answer in self._suggestions.suggest(requests).items():
            study = self._active[study_id]
            if isinstance(answer, BnnTuneError):
                self._fail_study(study_id, f"the Ax adapter could not suggest a trial: {answer}")
            elif answer is not None:
                try:
                    index = study.adapter.attach(answer)
                except BnnTuneError as exc:
                    self._fail_study(study_id, f"the Ax adapter could not record a suggested trial: {exc}")
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
            spec=self._trial_spec(record, study.space, parameters, trial.number),
            objective=record.objective,
            database_url=self.database_url,
            early_stopping=record.early_stopping,
        )
        study.in_flight[trial.id] = job
        self.executor.submit(job)

    def _trial_spec(
        self, record: StudyRecord, space: SearchSpace, parameters: dict[str, object], number: int
    ) -> TrialSpec:
        arguments = space.build_trial(parameters)
        binary = arguments["binary"]
        hyperparameters = arguments["hyperparameters"]
        assert isinstance(binary, dict) and isinstance(hyperparameters, dict)
        return TrialSpec(
            task=record.task,
            optimizer=str(arguments["optimizer"]),
            hyperparameters={k: float(v) for k, v in hyperparameters.items()},
            binary=BinaryOptions(**binary),
            decay=str(arguments["decay"]),
            epochs=record.epochs,
            batch_size=record.batch_size,
            seed=trial_seed(record.seed, number),
            max_train=record.max_train,
            data_dir=self.data_dir,
        )

    def _record(self, job: TrialJob, outcome: TrialOutcome) -> None:
        study = self._active.get(job.study_id)
        if study is None or job.trial_id not in study.in_flight:
            return  # the study was cancelled or failed while the attempt ran
        self.storage.set_worker(job.trial_id, outcome.worker_host, outcome.node_id)
        if outcome.state == "completed" and outcome.objective is not None:
            del study.in_flight[job.trial_id]
            self.storage.finish_trial(job.trial_id, "completed", objective=outcome.objective)
            study.adapter.complete(job.number, outcome.objective)
            study.ended += 1
            study.succeeded += 1
            return
        if outcome.state == "early_stopped" and outcome.objective is not None:
            del study.in_flight[job.trial_id]
            self.storage.finish_trial(job.trial_id, "early_stopped", objective=outcome.objective)
            curve = [p.value for p in self.storage.curve(job.trial_id) if p.metric == "val_accuracy"]
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
        del study.in_flight[job.trial_id]
        reason = outcome.error or "the trial failed"
        if outcome.retryable:
            reason = f"{reason} (after {job.attempt} attempts)"
        self.storage.finish_trial(job.trial_id, "failed", error=reason)
        study.adapter.fail(job.number, reason)
        study.ended += 1


def _history(trial: TrialRecord) -> HistoryTrial:
    return HistoryTrial(
        number=trial.number,
        parameters=trial.parameters,
        state=trial.state,
        objective=trial.objective,
    )
