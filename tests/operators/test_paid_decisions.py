"""
Payment decisions that mutation testing (``make mutation``, docs/testing.md) found unchecked.

Each test names the mutants it kills. Expected values are written out here (a documented digest,
the words a user reads), never computed by the module under test.
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from airflow_provider_onemin.exceptions import (
    OneMinGenerationFailedError,
    OneMinRecordMissingError,
    OneMinUnknownOutcomeError,
)
from airflow_provider_onemin.hooks.records import check_status
from airflow_provider_onemin.reuse.policy import operator_key, request_key
from airflow_provider_onemin.submissions.ledger import STATE_KEY, SubmissionLedger, request_hash

LOG = logging.getLogger("test_paid_decisions")
PROMPT = {"prompt": "a beach", "imageUrl": "development/images/mug.png", "num_images": 1}


class DictStore(dict):
    def set(self, key, value):
        self[key] = value

    def delete(self, key):
        self.pop(key, None)


def test_request_hash_is_the_documented_digest() -> None:
    # A record written by an earlier version must still match the same request after an upgrade,
    # or a resumed try waits for its generation and then pays again. Kills the mutants renaming
    # the canonical form's fields.
    canonical = (
        '{"model": "ideogram-3", "promptObject": {"imageUrl": "development/images/mug.png", '
        '"num_images": 1, "prompt": "a beach"}}'
    )
    assert request_hash("ideogram-3", PROMPT) == hashlib.sha256(canonical.encode()).hexdigest()


def test_operator_key_is_the_previews_key_or_the_one_carried_through_a_deferral() -> None:
    # Kills: the carried key ignored (a photo edited while deferred would be indexed under its new
    # key), the key built without the model or the prompt object (the run and its preview disagree).
    assert operator_key(False, "ideogram-3", PROMPT) is None
    built = operator_key(True, "ideogram-3", PROMPT)
    assert built is not None
    assert built.request == {
        "key_version": 1,
        "type": "BACKGROUND_REPLACER",
        "model": "ideogram-3",
        "promptObject": PROMPT,
    }
    assert built.digest == request_key("ideogram-3", PROMPT).digest  # what the cost preview looks up
    carried = {"digest": "d" * 64, "request": {"as": "paid"}}
    again = operator_key(True, "ideogram-3", {**PROMPT, "prompt": "edited since"}, carried=carried)
    assert (again.digest, again.request) == ("d" * 64, {"as": "paid"})


@pytest.mark.parametrize("status", ["FAILURE", "failed", "ERROR"])
def test_a_failed_record_raises_naming_the_generation_status_and_reason(status: str) -> None:
    # Kills: a failure read as "still running" (the task would end without results and nothing
    # would let it pay for a fresh generation), and an error without the uuid a user checks.
    record = {"uuid": "gen-9", "status": status, "aiRecordDetail": {"responseObject": {"error": "NSFW"}}}
    with pytest.raises(OneMinGenerationFailedError) as raised:
        check_status(record)
    assert (raised.value.uuid, raised.value.status) == ("gen-9", status)
    assert "gen-9" in str(raised.value) and status in str(raised.value) and "NSFW" in str(raised.value)
    assert check_status({"uuid": "g", "status": "SUCCESS"}) is True
    assert check_status({"uuid": "g", "status": "PROCESSING"}) is False


def test_an_earlier_tries_vanished_generation_is_named_in_the_unknown_outcome() -> None:
    # Kills: the uuid and submission time left out of the error when 1min.ai's answer had no uuid
    # (the user is told to look the generation up in the 1min.ai history: it must be named).
    store = DictStore(
        {STATE_KEY: {"uuid": "gen-7", "submitted_at": "2026-04-15T10:30:00+00:00", "try_number": 1}}
    )
    ledger = SubmissionLedger(store, "f", try_number=2, log=LOG)
    with pytest.raises(OneMinUnknownOutcomeError) as raised:
        ledger.generation_missing(OneMinRecordMissingError("no record", uuid=None))
    assert raised.value.uuid == "gen-7"
    assert "gen-7" in str(raised.value) and "2026-04-15T10:30:00+00:00" in str(raised.value)
    assert raised.value.sent_at == "2026-04-15T10:30:00+00:00"
