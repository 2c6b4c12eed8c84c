"""
The model of the stateful hunt (tests/project/test_stateful_hunt.py): task instances, photos on disk, what
each try asked for and what it got, the rules that change the world, and the oracle.

The oracle knows nothing of the provider's code: the emulator reports each generation's source
bytes, whether it was charged and the digest of each result it made (``GET /_emulator/generations``),
and the model knows which bytes each try's photo held. After every step:

* paid generations <= distinct content requests asked for (photo bytes, prompt, images, seed)
  + generations that ended in a failure + releases the user did knowingly (an unknown-outcome
  error's own advice, which may pay again) + stored results and index records the test broke
  (a record that cannot be trusted is paid for again, by design);
* every file a successful try handed out is a result of a generation made from the very bytes
  (and prompt, image count and seed) its request names, and there is one per image asked for;
* no API key and no signed link's token is in anything written: XCom, the extra link, logs at
  INFO, exception text, the task state store, trigger events and kwargs, files under the output
  folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from airflow_provider_onemin.emulator.pytest_plugin import CONN_ENV_VAR, TEST_API_KEY
from tests.project.hunt_harness import (
    CRASH_POINTS,
    STATE_KEY,
    Injector,
    TaskInstance,
    TaskStateStore,
    WorkerCrash,
    captured_logs,
    first_trigger_event,
    photo_variant,
    sha256,
    step_name,
)

#: Steps (rules) and tries (operator runs) so far in this session, by family.
STEPS: dict[str, int] = {}
TRIES: dict[str, int] = {}

PHOTOS = ("mug.png", "lamp.png")
PROMPTS = ("a sunlit kitchen counter", "a marble bathroom shelf")
FAULTS = (
    {"kind": "status", "endpoint": "features", "code": 503},
    {"kind": "status", "endpoint": "results", "code": 502},
    {"kind": "status", "endpoint": "assets", "code": 500},
    {"kind": "status", "endpoint": "download", "code": 503},
    {"kind": "status", "endpoint": "features", "code": 429, "retry_after": 0},
    {"kind": "reset_before_charge", "endpoint": "features"},
    {"kind": "reset_after_charge", "endpoint": "features"},
    {"kind": "reset_after_charge", "endpoint": "results"},
    {"kind": "reset_after_charge", "endpoint": "download"},
    {"kind": "truncated_json", "endpoint": "features"},
    {"kind": "truncated_json", "endpoint": "results"},
    {"kind": "failure", "endpoint": "features"},
    {"kind": "failure", "endpoint": "results"},
    {"kind": "null_record", "endpoint": "results"},
    {"kind": "null_record", "endpoint": "results", "count": 3},
    {"kind": "expired_link", "endpoint": "download"},
    {"kind": "unsafe", "endpoint": "features"},
    {"kind": "out_of_credits", "endpoint": "features"},
    {"kind": "bad_request", "endpoint": "features"},
)
CORRUPTIONS = ("truncate", "not_json", "wrong_key", "wrong_digest", "no_copies", "empty")


def _unknown_outcome(error: BaseException | None) -> bool:
    return type(error).__name__ == "OneMinUnknownOutcomeError"


class Hunt(RuleBasedStateMachine):
    """The model: task instances, photos on disk, what each try asked for and what it got."""

    family = "core"
    emulator: Any = None
    enabled: frozenset[str] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="onemin-hunt-"))
        self.out = self.root / "out"
        self.photos = self.root / "photos"
        self.out.mkdir()
        self.photos.mkdir()
        self.emulator.reset()
        self.injector = Injector(self.out)
        self.installed = self.injector.installed()
        self.installed.__enter__()
        self.instances: dict[str, dict[str, Any]] = {}
        self.asked: set[tuple[Any, ...]] = set()
        self.releases = 0
        self.damages = 0  # stored results and index records the test broke: each may cost a payment
        self.written: list[tuple[str, str]] = []  # (where, text) of everything persisted
        self.served: list[tuple[str, tuple[Any, ...], list[str]]] = []  # (run, request, files)

    def teardown(self) -> None:
        self.installed.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    @initialize(variant=st.integers(0, 3))
    def photos_exist(self, variant: int) -> None:
        for index, name in enumerate(PHOTOS):
            (self.photos / name).write_bytes(photo_variant((variant + index) % 4))

    # --- running tries ---------------------------------------------------------------------

    def _operator(self, instance: dict[str, Any], deferrable: bool) -> Any:
        from airflow_provider_onemin.operators.background_replacer import BackgroundReplacerOperator

        return BackgroundReplacerOperator(
            task_id="replace",
            prompt=instance["prompt"],
            image_url=str(self.photos / instance["photo"]),
            num_images=instance["num_images"],
            seed=instance["seed"],
            output_path=str(self.out),
            reuse=True,
            deferrable=deferrable,
            poll_timeout=10,
            # A try that finds the request claimed by a dead or stuck try waits this long, then
            # fails closed (OneMinReuseWaitError): the default (the poll timeout plus the claim's
            # lifetime) would stall the hunt for minutes on every such step.
            reuse_wait_timeout=3,
            min_defer_time=0,
        )

    def _request(self, instance: dict[str, Any]) -> tuple[Any, ...] | None:
        """The content request a try asks for now (None when its photo is gone)."""
        path = self.photos / instance["photo"]
        if not path.exists():
            return None
        return (sha256(path.read_bytes()), instance["prompt"], instance["num_images"], instance["seed"])

    def _try(
        self,
        run_id: str,
        *,
        crash_after: str | None = None,
        hiccup_at: int = 0,
        deferrable: bool = False,
        stale_event: bool = False,
        retry_unknown_outcome: bool = False,
    ) -> None:
        instance = self.instances[run_id]
        ti = TaskInstance(run_id=run_id, try_number=instance["tries"] + 1)
        instance["tries"] += 1
        request = self._request(instance)
        if request is not None:
            self.asked.add(request)
        context = {"ti": ti, "task_state_store": instance["store"]}
        operator = self._operator(instance, deferrable)
        outcome, error = "failed", None
        self.injector.arm(crash_after, hiccup_at or None)
        from airflow.sdk.exceptions import TaskDeferred

        conn_before = os.environ[CONN_ENV_VAR]
        if retry_unknown_outcome:
            conn = json.loads(conn_before)
            os.environ[CONN_ENV_VAR] = json.dumps(
                {**conn, "extra": {**conn["extra"], "retry_unknown_outcome": True}}
            )
        with captured_logs() as logs:
            try:
                if stale_event and instance.get("event") is not None:
                    result = operator.execute_complete(context, event=instance["event"])
                else:
                    try:
                        result = operator.execute(context)
                    except TaskDeferred as deferred:
                        self.written.append(("trigger kwargs", repr(deferred.trigger.serialize())))
                        self.written.append(("next_kwargs", repr(deferred.kwargs)))
                        event = first_trigger_event(deferred.trigger)
                        instance["event"] = event
                        self.written.append(("trigger event", repr(event)))
                        method = getattr(operator, deferred.method_name)
                        result = method(context, event=event, **(deferred.kwargs or {}))
                outcome = "success"
            except WorkerCrash as crash:
                outcome, error = "crashed", crash
            except Exception as exc:  # the try failed; Airflow would log it and retry or fail
                error = exc
                logs.lines.append(f"{type(exc).__name__}: {exc}")
            finally:
                self.injector.disarm()
                os.environ[CONN_ENV_VAR] = conn_before
        instance["last"] = outcome
        instance["error"] = error
        self.written += [("log", line) for line in logs.lines]
        self.written.append(("xcom", repr(ti.xcom)))
        self.written.append(("task state store", repr(instance["store"].data)))
        if outcome == "success":
            self.written.append(("extra link", repr(operator.result_link)))
            self.served.append((run_id, request, list(ti.xcom.get("stored_paths") or [])))
            assert isinstance(result, list)
        TRIES[self.family] = TRIES.get(self.family, 0) + 1

    def _new_instance(self, photo: str, prompt: str, num_images: int, seed: int | None) -> str:
        run_id = f"run_{len(self.instances)}"
        self.instances[run_id] = {
            "photo": photo,
            "prompt": prompt,
            "num_images": num_images,
            "seed": seed,
            "tries": 0,
            "last": None,
            "store": TaskStateStore(),
        }
        return run_id

    request_args = {
        "photo": st.sampled_from(PHOTOS),
        "prompt": st.sampled_from(PROMPTS),
        "num_images": st.integers(1, 2),
        "seed": st.sampled_from([None, 7]),
    }
    # No crash half the time; else right after one of the paid path's steps.
    crash = st.one_of(st.none(), st.sampled_from([step_name(*point) for point in CRASH_POINTS]))

    @rule(**request_args, crash_after=crash)
    def new_run(
        self, photo: str, prompt: str, num_images: int, seed: int | None, crash_after: str | None
    ) -> None:
        self._try(self._new_instance(photo, prompt, num_images, seed), crash_after=crash_after)

    def _pick(self, data: st.DataObject, which: str) -> str | None:
        wanted = [
            run_id
            for run_id, instance in self.instances.items()
            if which == "any" or (which == "unfinished" and instance["last"] != "success")
        ]
        return data.draw(st.sampled_from(sorted(wanted))) if wanted else None

    def _then_a_try(self, data: st.DataObject) -> None:
        """After a change of the world, one try: a new run, a retry or a clear (crash or not)."""
        crash_after = data.draw(self.crash, label="crash_after")
        kind = data.draw(st.sampled_from(["new", "retry", "clear"]), label="then")
        unfinished = self._pick(data, "unfinished") if kind == "retry" else None
        if kind == "new" or not self.instances:
            request = {name: data.draw(strategy, label=name) for name, strategy in self.request_args.items()}
            self._try(self._new_instance(**request), crash_after=crash_after)
        else:
            self._try(unfinished or self._pick(data, "any"), crash_after=crash_after)

    @precondition(lambda self: any(i["last"] != "success" for i in self.instances.values()))
    @rule(data=st.data(), crash_after=crash)
    def retry(self, data: st.DataObject, crash_after: str | None) -> None:
        """Airflow retries a failed or lost try: same task instance, next try number."""
        self._try(self._pick(data, "unfinished"), crash_after=crash_after)

    @precondition(lambda self: bool(self.instances))
    @rule(data=st.data(), crash_after=crash)
    def clear(self, data: st.DataObject, crash_after: str | None) -> None:
        """A user clears the task instance (whatever its state): the store survives, the try number grows."""
        self._try(self._pick(data, "any"), crash_after=crash_after)

    @precondition(lambda self: any(_unknown_outcome(i.get("error")) for i in self.instances.values()))
    @rule(data=st.data())
    def follow_the_release_advice(self, data: st.DataObject) -> None:
        """
        Do what an unknown-outcome error says releases the task (it may pay again, knowingly):
        delete the record it names and clear, or clear with ``retry_unknown_outcome`` set. The
        advice must work: the next try does not stop on the same unknown outcome.
        """
        blocked = sorted(r for r, i in self.instances.items() if _unknown_outcome(i.get("error")))
        run_id = data.draw(st.sampled_from(blocked))
        instance = self.instances[run_id]
        error = instance["error"]
        self.releases += 1
        if STATE_KEY in str(error):
            instance["store"].delete(STATE_KEY)
            self._try(run_id)
        else:
            assert "retry_unknown_outcome" in str(error), f"no way to release the task is given: {error}"
            self._try(run_id, retry_unknown_outcome=True)
        after = instance["error"]
        assert not (_unknown_outcome(after) and after.sent_at == error.sent_at), (
            f"following the advice did not release the task: {error} -> {after}"
        )

    # --- the world changing between tries ---------------------------------------------------

    @rule(data=st.data(), fault=st.sampled_from(FAULTS))
    def fault_then_a_try(self, data: st.DataObject, fault: dict[str, Any]) -> None:
        requests.post(f"{self.emulator.url}/_emulator/faults", json=fault, timeout=10).raise_for_status()
        self._then_a_try(data)

    @precondition(lambda self: "edit_photos" in self.enabled)
    @rule(data=st.data(), photo=st.sampled_from(PHOTOS), variant=st.integers(0, 3))
    def edit_photo_then_a_try(self, data: st.DataObject, photo: str, variant: int) -> None:
        (self.photos / photo).write_bytes(photo_variant(variant))
        self._then_a_try(data)

    @rule(data=st.data(), photo=st.sampled_from(PHOTOS), delete=st.booleans())
    def delete_or_restore_photo_then_a_try(self, data: st.DataObject, photo: str, delete: bool) -> None:
        """Delete a photo, or put back the bytes it had at the start (no edit outside edit_photos)."""
        path = self.photos / photo
        if delete:
            self._original = getattr(self, "_original", {})
            if path.exists():
                self._original[photo] = path.read_bytes()
                path.unlink()
        elif not path.exists() and photo in getattr(self, "_original", {}):
            path.write_bytes(self._original[photo])
        self._then_a_try(data)

    def _results_on_disk(self) -> list[Path]:
        return sorted(p for p in self.out.rglob("*") if p.is_file() and ".onemin-reuse" not in p.parts)

    @precondition(lambda self: bool(self._results_on_disk()))
    @rule(data=st.data(), how=st.sampled_from(["delete", "other_result", "garbage"]))
    def tamper_with_a_stored_result_then_a_try(self, data: st.DataObject, how: str) -> None:
        files = self._results_on_disk()
        target = data.draw(st.sampled_from(files))
        self.damages += 1
        if how == "delete":
            target.unlink()
        elif how == "other_result":
            target.write_bytes(data.draw(st.sampled_from(files)).read_bytes())
        else:
            target.write_bytes(b"\x89PNG\r\n\x1a\n not really")
        self._then_a_try(data)

    def _index_records(self) -> list[Path]:
        return sorted((self.out / ".onemin-reuse").glob("*.json"))

    @precondition(lambda self: bool(self._index_records()))
    @rule(data=st.data(), how=st.sampled_from(CORRUPTIONS))
    def corrupt_an_index_record_then_a_try(self, data: st.DataObject, how: str) -> None:
        path = data.draw(st.sampled_from(self._index_records()))
        text = path.read_text()
        self.damages += 1
        try:
            record = json.loads(text)
        except ValueError:
            how = "not_json"  # already broken
        if how == "truncate":
            path.write_text(text[: len(text) // 2])
        elif how == "not_json":
            path.write_text("{not json")
        elif how == "empty":
            path.write_text("")
        else:
            if how == "wrong_key":
                record["key"] = "0" * 64
            elif how == "wrong_digest":
                record["files"][0]["sha256"] = "f" * 64
            else:
                record["copies"] = []
            path.write_text(json.dumps(record))
        self._then_a_try(data)

    @precondition(lambda self: "hiccups" in self.enabled and bool(self.instances))
    @rule(data=st.data(), hiccup_at=st.integers(1, 12))
    def clear_through_a_storage_hiccup(self, data: st.DataObject, hiccup_at: int) -> None:
        """A clear during which the output storage throttles once (S3 SlowDown)."""
        self._try(self._pick(data, "any"), hiccup_at=hiccup_at)

    @precondition(lambda self: "hiccups" in self.enabled)
    @rule(**request_args, hiccup_at=st.integers(1, 12))
    def new_run_through_a_storage_hiccup(
        self, photo: str, prompt: str, num_images: int, seed: int | None, hiccup_at: int
    ) -> None:
        self._try(self._new_instance(photo, prompt, num_images, seed), hiccup_at=hiccup_at)

    @precondition(lambda self: "deferral" in self.enabled)
    @rule(**request_args, crash_after=crash)
    def new_deferred_run(
        self, photo: str, prompt: str, num_images: int, seed: int | None, crash_after: str | None
    ) -> None:
        self._try(
            self._new_instance(photo, prompt, num_images, seed), deferrable=True, crash_after=crash_after
        )

    @precondition(
        lambda self: (
            "deferral" in self.enabled
            and any(i.get("event") is not None and i["last"] != "success" for i in self.instances.values())
        )
    )
    @rule(data=st.data())
    def retry_with_an_earlier_tries_event(self, data: st.DataObject) -> None:
        """Airflow 3.0 hands a retry the event of an earlier try (its next_method outlives it)."""
        run_id = data.draw(
            st.sampled_from(
                sorted(
                    r
                    for r, i in self.instances.items()
                    if i.get("event") is not None and i["last"] != "success"
                )
            )
        )
        self._try(run_id, stale_event=True)

    @precondition(lambda self: "concurrency" in self.enabled)
    @rule(**request_args)
    def two_runs_at_once(self, photo: str, prompt: str, num_images: int, seed: int | None) -> None:
        """Two runs of one request at the same time (the render takes a moment, so both overlap)."""
        runs = [self._new_instance(photo, prompt, num_images, seed) for _ in range(2)]
        self.emulator.set_latency(0.3)
        try:
            threads = [threading.Thread(target=self._try, args=(run_id,)) for run_id in runs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            self.emulator.set_latency(0)

    # --- the oracle -----------------------------------------------------------------------------

    def _generations(self) -> list[dict[str, Any]]:
        self.emulator.wait_idle()
        answer = requests.get(f"{self.emulator.url}/_emulator/generations", timeout=30)
        answer.raise_for_status()
        return answer.json()["generations"]

    @invariant()
    def oracle(self) -> None:
        STEPS[self.family] = STEPS.get(self.family, 0) + 1
        generations = self._generations()
        paid = sum(g["charged"] for g in generations)
        failed = sum(g["status"] == "FAILURE" for g in generations)
        allowed = len(self.asked) + failed + self.releases + self.damages
        assert paid <= allowed, (
            f"paid for {paid} generations, but only {len(self.asked)} distinct requests were asked for "
            f"({failed} generations failed, {self.releases} knowing releases, {self.damages} results or "
            "index records broken by the test)"
        )
        # Results are drawn from (source, prompt, seed, index): two generations may make equal bytes.
        made_from: dict[str, list[dict[str, Any]]] = {}
        for g in generations:
            for r in g["results"]:
                made_from.setdefault(r["sha256"], []).append(g)
        for run_id, request, files in self.served:
            assert request is not None, f"{run_id} succeeded without its photo"
            photo, prompt, num_images, seed = request
            assert len(files) == num_images, f"{run_id} asked for {num_images} image(s), handed out {files}"
            for uri in files:
                path = Path(uri.removeprefix("file://"))
                makers = made_from.get(sha256(path.read_bytes()), []) if path.exists() else []
                assert makers, f"{run_id} handed out {uri}, which no generation made"
                assert any((g["source_sha256"], g["prompt"]) == (photo, prompt) for g in makers), (
                    f"{run_id} handed out {uri}, made by generation {makers[0]['uuid']} from other "
                    "bytes or another prompt than its request names"
                )
                assert any(g["num_images"] == num_images and seed in (None, g["seed"]) for g in makers), (
                    f"{run_id} handed out {uri} of generation {makers[0]['uuid']}, made for another request"
                )
        self.served.clear()  # checked when handed out: later tampering is the test's, not the code's
        secrets = [TEST_API_KEY] + [g["link_token"] for g in generations]
        for where, text in self.written + self._files_written():
            for secret in secrets:
                assert secret not in text, (
                    f"a secret ({secret[:6]}...) persisted in the {where}: {text[:300]}"
                )
        self.written.clear()

    def _files_written(self) -> list[tuple[str, str]]:
        return [
            (f"file {path.relative_to(self.out)}", path.read_bytes().decode("latin-1"))
            for path in self.out.rglob("*")
            if path.is_file()
        ]
