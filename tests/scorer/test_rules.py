"""Each rule on its own: holds on a real form, fails on a planted mistake, skips on missing input."""

from decimal import Decimal as D

import pytest

from selfeval.contract import Check, CheckStatus, Form, Grade, Record
from services.scorer import rules
from services.scorer.measures import parse_measure

pytestmark = pytest.mark.unit


def with_measures(form: Form) -> Form:
    for indicator in form.indicators:
        indicator.target_measure = parse_measure(indicator.target)
        indicator.actual_measure = parse_measure(indicator.actual)
    return form


def statuses(checks: list[Check]) -> set[CheckStatus]:
    return {check.status for check in checks}


@pytest.fixture
def form(form_01: Record) -> Form:
    return with_measures(form_01.form)


def test_every_error_rule_holds_on_a_real_form(form: Form) -> None:
    for rule in rules.ERROR_RULES:
        assert statuses(rule(form)) == {CheckStatus.passed}, rule.name


def test_header_complete_names_the_missing_field(form: Form) -> None:
    form.implementing_unit = ""
    (check,) = rules.check_header_complete(form)
    assert check.status is CheckStatus.failed and "form.implementing_unit" in check.message


def test_execution_rate_catches_a_rounded_rate(form: Form) -> None:
    form.funding.total.execution_rate = D("86.54")  # rounded instead of truncated
    checks = rules.check_execution_rate(form)
    failed = [c for c in checks if c.status is CheckStatus.failed]
    assert len(failed) == 1
    assert failed[0].expected == "86.53" and failed[0].found == "86.54"
    assert "form.funding.total.execution_rate" in failed[0].fields


def test_execution_rate_skips_a_row_without_budget(form: Form) -> None:
    form.funding.other.annual_budget = None
    checks = rules.check_execution_rate(form)
    skipped = [c for c in checks if c.status is CheckStatus.skipped]
    assert len(skipped) == 1 and "form.funding.other.annual_budget" in skipped[0].message


def test_funding_score_catches_a_truncated_score(form: Form) -> None:
    form.funding.total.score = D("8.66")
    (check,) = rules.check_funding_score(form)
    assert check.status is CheckStatus.failed and check.expected == "8.65"


def test_funding_rows_add_up_per_column(form: Form) -> None:
    form.funding.carryover.executed = D("0.01")
    checks = rules.check_funding_rows_add_up(form)
    failed = [c for c in checks if c.status is CheckStatus.failed]
    assert len(failed) == 1 and "form.funding.carryover.executed" in failed[0].fields
    assert failed[0].expected == "155.78" and failed[0].found == "155.77"


def test_weights_sum_to_100(form: Form) -> None:
    form.indicators[3].weight = D("5.00")
    (check,) = rules.check_weights_sum_to_100(form)
    assert check.status is CheckStatus.failed and check.found == "99.00"


def test_weights_skip_when_one_weight_is_unread(form: Form) -> None:
    form.indicators[0].weight = None
    (check,) = rules.check_weights_sum_to_100(form)
    assert check.status is CheckStatus.skipped


def test_total_weight_row_must_match(form: Form) -> None:
    form.total_weight = D("90.00")
    (check,) = rules.check_total_weight(form)
    assert check.status is CheckStatus.failed and check.expected == "100.00"
    form.total_weight = None
    assert rules.check_total_weight(form) == []


@pytest.mark.parametrize(
    ("score", "holds"), [("2.00", True), ("0.00", True), ("2.01", False), ("-0.01", False)]
)
def test_indicator_score_within_weight(form: Form, score: str, holds: bool) -> None:
    form.indicators[0].score = D(score)
    check = rules.check_indicator_score_within_weight(form)[0]
    assert (check.status is CheckStatus.passed) is holds


def test_total_score_is_funding_plus_indicators(form: Form) -> None:
    form.total_score = D("98.16")
    (check,) = rules.check_total_score(form)
    assert check.status is CheckStatus.failed and check.expected == "98.15"
    form.total_score, form.indicators[2].score = D("98.15"), None
    (check,) = rules.check_total_score(form)
    assert check.status is CheckStatus.skipped


@pytest.mark.parametrize(
    ("total", "with_weight", "without_weight"),
    [
        ("110.00", CheckStatus.failed, CheckStatus.failed),  # above the 100 all 分值 add up to
        ("60.00", CheckStatus.failed, CheckStatus.failed),  # below the 得分 that were read
        ("99.00", CheckStatus.failed, CheckStatus.skipped),  # above what the unread 分值 leaves room for
        ("98.15", CheckStatus.skipped, CheckStatus.skipped),  # the true total
        ("97.00", CheckStatus.skipped, CheckStatus.skipped),  # wrong, yet an unread 得分 could make it
    ],
)
def test_total_score_with_an_unread_score_is_still_bounded(
    form: Form, total: str, with_weight: CheckStatus, without_weight: CheckStatus
) -> None:
    # Form 1's 得分 sum to 98.15; without indicators[0]'s (2.00 of 分值 2.00) the rest make 96.15.
    form.indicators[0].score, form.total_score = None, D(total)
    (check,) = rules.check_total_score(form)
    assert check.status is with_weight and "form.total_score" in check.fields
    form.indicators[0].weight = None  # then only the 100 of all 分值 bounds it from above
    (check,) = rules.check_total_score(form)
    assert check.status is without_weight and "form.total_score" in check.fields


def test_grade_follows_total(form: Form) -> None:
    form.grade = Grade.good
    (check,) = rules.check_grade(form)
    assert check.status is CheckStatus.failed and check.expected == "优" and check.found == "良"
    form.total_score = D("85.00")
    (check,) = rules.check_grade(form)
    assert check.status is CheckStatus.passed


def test_quantitative_score_flags_form_1_half_point(form: Form) -> None:
    # Seed form 1 gives 0.50 of 1.00 for 0 of 1 forums: policy says about 0; a warning, not an error.
    flagged = [c for c in rules.check_quantitative_score(form) if c.status is CheckStatus.failed]
    assert len(flagged) == 1
    assert flagged[0].severity.value == "warning"
    assert flagged[0].expected == "0.00" and flagged[0].found == "0.50"


def test_quantitative_score_reverse_indicator(form: Form) -> None:
    indicator = form.indicators[0]
    indicator.target, indicator.actual, indicator.weight, indicator.score = "≤5(天)", "4.00(天)", D(2), D(2)
    with_measures(form)
    assert rules.check_quantitative_score(form)[0].status is CheckStatus.passed
    indicator.actual = "10.00(天)"
    indicator.score = D("1.00")
    with_measures(form)
    assert rules.check_quantitative_score(form)[0].status is CheckStatus.passed  # 5/10 × 2


def test_quantitative_score_unit_mismatch(form: Form) -> None:
    form.indicators[0].actual = "2.00(项)"
    with_measures(form)
    check = rules.check_quantitative_score(form)[0]
    assert check.status is CheckStatus.failed and "unit" in check.message


def test_qualitative_score_bands(form: Form) -> None:
    index = next(i for i, ind in enumerate(form.indicators) if ind.actual == "达成指标")
    form.indicators[index].score = D("4.00")  # 4 of 6 is 67 %: too low for 达成
    failed = [c for c in rules.check_qualitative_score(form) if c.status is CheckStatus.failed]
    assert [c.fields[0] for c in failed] == [f"form.indicators[{index}].actual"]
    form.indicators[index].actual = "部分达成"
    with_measures(form)
    assert all(c.status is CheckStatus.passed for c in rules.check_qualitative_score(form))


def test_deviation_reason_needed_below_full_score(form: Form) -> None:
    assert statuses(rules.check_deviation_reason(form)) == {CheckStatus.passed}
    form.indicators[6].deviation_reason = None
    assert statuses(rules.check_deviation_reason(form)) == {CheckStatus.failed}


def test_execution_rate_over_100_warns(form: Form) -> None:
    assert statuses(rules.check_execution_rate_over_100(form)) == {CheckStatus.passed}
    form.funding.total.execution_rate = D("100.01")
    assert statuses(rules.check_execution_rate_over_100(form)) == {CheckStatus.failed}


def test_default_weights_warns_on_adjusted_weights(form: Form) -> None:
    (check,) = rules.check_default_weights(form)
    assert check.severity.value == "warning" and check.status is CheckStatus.failed  # 产出 58 on form 1


def test_rule_names_cover_every_rule(form: Form) -> None:
    form.funding.total.execution_rate = D("100.01")
    produced = {check.rule for check in rules.run_rules(form)}
    assert produced == rules.RULE_NAMES
