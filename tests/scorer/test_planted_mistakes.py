"""Mistakes planted on any form (`scangen.planted`): each is caught by its rule and by no other, as
the planted fixtures are; the benchmarks plant them on drawn scans."""

import pytest

from scangen import random_form
from scangen.fixtures import real_forms
from scangen.planted import Mistake, plant
from selfeval.contract import Form, Record, Status
from services.scorer import score_record

pytestmark = pytest.mark.unit

FORMS = [("real", k) for k in range(8)] + [("random", seed) for seed in (5001, 5003, 5010, 5042)]


def form_of(kind: str, key: int) -> Form:
    return real_forms()[key].form if kind == "real" else random_form(key, heldout=key % 2 == 0)


@pytest.mark.parametrize("mistake", list(Mistake), ids=str)
@pytest.mark.parametrize(("kind", "key"), FORMS, ids=lambda value: str(value))
def test_a_planted_mistake_is_caught_by_its_rule_and_no_other(kind: str, key: int, mistake: Mistake) -> None:
    form = form_of(kind, key)
    scored = score_record(Record(form=plant(form, mistake)))
    assert scored.failed_rules() == [mistake.value]
    assert scored.status is Status.needs_review
    assert score_record(Record(form=form)).status is Status.verified  # the form itself holds
