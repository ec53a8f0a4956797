"""Arithmetic as a second reader: what the form's other figures imply for a field in doubt, and when
they imply nothing. Real form 1 (总分 98.15 = 资金得分 8.65 + Σ 指标得分 89.50) with one thing changed."""

from decimal import Decimal as D

import pytest

from selfeval.contract import Check, CheckStatus, Grade, Record, Severity, Status, Suggestion
from services.scorer import score_record
from tests.conftest import FIXTURES, load_fixture

pytestmark = pytest.mark.unit

TOTAL_SCORE = "form.total_score"
GRADE = "form.grade"
FUNDING_SCORE = "form.funding.total.score"
TOTAL_RATE = "form.funding.total.execution_rate"


def indicator_score(index: int) -> str:
    return f"form.indicators[{index}].score"


def read_with_doubt(record: Record, path: str) -> Record:
    """As the parser reports a figure read with low confidence: an error-level check on that field."""
    doubt = Check(
        rule="field_confidence",
        severity=Severity.error,
        status=CheckStatus.failed,
        message=f"{path} read with confidence 0.41 (< 0.80)",
        fields=[path],
    )
    return record.model_copy(update={"checks": [*record.checks, doubt]})


def suggested(record: Record) -> dict[str, str]:
    scored = score_record(record)
    return {path: suggestion.value for path, suggestion in scored.provenance.suggestions.items()}


def test_a_verified_record_has_no_suggestions(form_01: Record) -> None:
    scored = score_record(form_01)
    assert scored.status is Status.verified and scored.provenance.suggestions == {}


# --- 总分 = funding 得分 + Σ indicator 得分 ------------------------------------------------------


def test_a_planted_wrong_total_gets_the_implied_total_and_stays_needs_review() -> None:
    planted = load_fixture(FIXTURES / "planted" / "wrong_total_score.json")  # 98.15 printed as 98.25
    scored = score_record(planted)
    assert scored.status is Status.needs_review
    assert scored.form.total_score == D("98.25")  # the form keeps what was read
    assert scored.provenance.suggestions[TOTAL_SCORE] == Suggestion(
        value="98.15", because="总分 = 资金得分 8.65 + Σ 指标得分 89.50"
    )


def test_an_unread_total_gets_the_sum(form_01: Record) -> None:
    form_01.form.total_score = None
    assert suggested(form_01)[TOTAL_SCORE] == "98.15"


def test_no_total_above_100(form_01: Record) -> None:
    # The 总分 row read as one more indicator (分值 100.00, 得分 98.15), and no 总分 found: the sum,
    # 196.30, is no score a form can have.
    total_row = form_01.form.indicators[0].model_copy(update={"name": "总分", "weight": D("100.00")})
    form_01.form.indicators.append(total_row.model_copy(update={"score": D("98.15")}))
    form_01.form.total_score = None
    assert TOTAL_SCORE not in suggested(form_01)


def test_an_unread_indicator_score_gets_the_total_less_the_others(form_01: Record) -> None:
    form_01.form.indicators[6].score = None
    scored = score_record(form_01)
    suggestion = scored.provenance.suggestions[indicator_score(6)]
    assert suggestion.value == "0.50"
    assert suggestion.because == "指标得分 = 总分 98.15 − 资金得分 8.65 − Σ 其他指标得分 89.00"
    assert scored.status is Status.needs_review and scored.form.indicators[6].score is None


def test_a_doubtful_misread_indicator_score_gets_the_value_the_total_implies(form_01: Record) -> None:
    form_01.form.indicators[3].score = D("5.00")  # 6.00 misread, and the reader said it was unsure
    assert suggested(read_with_doubt(form_01, indicator_score(3)))[indicator_score(3)] == "6.00"


def test_a_confidently_read_indicator_score_is_not_solved_for(form_01: Record) -> None:
    # Every figure reads fine and the sum fails: the total is the suggestion, not one of the addends,
    # since nothing says which addend would be wrong.
    form_01.form.indicators[3].score = D("5.00")
    suggestions = suggested(form_01)
    assert suggestions[TOTAL_SCORE] == "97.15"
    assert not any(path.startswith("form.indicators") for path in suggestions)


def test_two_unread_scores_determine_neither(form_01: Record) -> None:
    form_01.form.indicators[2].score = None
    form_01.form.indicators[6].score = None
    suggestions = suggested(form_01)
    assert indicator_score(2) not in suggestions and indicator_score(6) not in suggestions


def test_an_unread_total_and_an_unread_score_determine_neither(form_01: Record) -> None:
    form_01.form.total_score = None
    form_01.form.indicators[6].score = None
    suggestions = suggested(form_01)
    assert TOTAL_SCORE not in suggestions and indicator_score(6) not in suggestions


def test_no_total_from_an_addend_that_is_itself_in_doubt(form_01: Record) -> None:
    form_01.form.total_score = None
    assert TOTAL_SCORE not in suggested(read_with_doubt(form_01, indicator_score(0)))


def test_no_total_from_a_score_that_fails_its_own_rule(form_01: Record) -> None:
    form_01.form.total_score = None
    form_01.form.indicators[6].score = D("1.50")  # above its 分值 1.00
    assert TOTAL_SCORE not in suggested(form_01)


# --- 执行率 and funding 得分 from the amounts -----------------------------------------------------


def test_an_off_by_a_cent_rate_gets_the_truncated_rate() -> None:
    planted = load_fixture(FIXTURES / "planted" / "execution_rate_off_by_cent.json")  # 86.53 as 86.54
    scored = score_record(planted)
    assert scored.provenance.suggestions[TOTAL_RATE] == Suggestion(
        value="86.53",
        because="年度资金总额执行率 = 全年执行数 155.77 / 全年预算数 180.00 × 100，截断至两位小数",
    )
    assert scored.status is Status.needs_review


def test_an_unread_rate_gets_the_rate_of_its_row(form_01: Record) -> None:
    form_01.form.funding.current_year_appropriation.execution_rate = None
    path = "form.funding.current_year_appropriation.execution_rate"
    assert suggested(form_01)[path] == "86.53"


def test_no_rate_from_an_amount_read_with_doubt(form_01: Record) -> None:
    form_01.form.funding.total.execution_rate = None
    assert TOTAL_RATE not in suggested(read_with_doubt(form_01, "form.funding.total.executed"))


def test_an_unread_funding_score_gets_the_score_of_the_amounts(form_01: Record) -> None:
    form_01.form.funding.total.score = None
    scored = score_record(form_01)
    assert scored.provenance.suggestions[FUNDING_SCORE] == Suggestion(
        value="8.65",
        because="资金得分 = 分数 10.00 × 全年执行数 155.77 / 全年预算数 180.00，"
        "四舍五入至两位小数，不超过分数；资金得分 = 总分 98.15 − Σ 指标得分 89.50",
    )


def test_a_funding_score_the_amounts_and_the_total_disagree_on_gets_none() -> None:
    # 9.95 printed as 9.94 with 总分 following it: the amounts say 9.95, the total says 9.94.
    planted = load_fixture(FIXTURES / "planted" / "funding_score_rounded_down.json")
    assert FUNDING_SCORE not in suggested(planted)
    planted.form.funding.total.score = D("9.90")  # and misread, with doubt: both equations fail as read
    assert FUNDING_SCORE not in suggested(read_with_doubt(planted, FUNDING_SCORE))


# --- the grade from 总分 ----------------------------------------------------------------------


def test_a_wrong_grade_gets_the_grade_of_the_total() -> None:
    planted = load_fixture(FIXTURES / "planted" / "grade_mismatch.json")  # 良 for 99.99
    scored = score_record(planted)
    assert scored.provenance.suggestions[GRADE] == Suggestion(value="优", because="评分等级由总分 99.99 定出")
    assert scored.form.grade is Grade.good


def test_no_grade_from_a_total_in_doubt(form_01: Record) -> None:
    form_01.form.grade = None
    form_01.form.total_score = D("88.15")  # misread: the sum says 98.15, 良 would follow from 88.15
    assert GRADE not in suggested(form_01)


# --- funding sub-rows and the total ----------------------------------------------------------


def test_an_unread_sub_row_amount_gets_the_total_less_the_others(form_01: Record) -> None:
    form_01.form.funding.carryover.executed = None
    scored = score_record(form_01)
    assert scored.provenance.suggestions["form.funding.carryover.executed"] == Suggestion(
        value="0.00",
        because="全年执行数：上年结转资金 = 年度资金总额 155.77 − 当年财政拨款 155.77 − 其他资金 0.00",
    )


def test_an_unread_total_amount_gets_the_sum_of_the_sub_rows(form_01: Record) -> None:
    form_01.form.funding.total.initial_budget = None
    suggestion = score_record(form_01).provenance.suggestions["form.funding.total.initial_budget"]
    assert suggestion.value == "180.00"
    assert (
        suggestion.because
        == "年初预算数：年度资金总额 = 当年财政拨款 180.00 + 上年结转资金 0.00 + 其他资金 0.00"
    )


def test_two_unread_sub_rows_determine_neither(form_01: Record) -> None:
    form_01.form.funding.carryover.initial_budget = None
    form_01.form.funding.other.initial_budget = None
    suggestions = suggested(form_01)
    assert not {"form.funding.carryover.initial_budget", "form.funding.other.initial_budget"} & set(
        suggestions
    )


def test_no_negative_amount(form_01: Record) -> None:
    form_01.form.funding.carryover.initial_budget = None
    form_01.form.funding.current_year_appropriation.initial_budget = D("190.00")  # more than the total
    assert "form.funding.carryover.initial_budget" not in suggested(form_01)


def test_no_suggestion_that_breaks_a_check_that_holds(form_01: Record) -> None:
    # A sub-row misread along with its rate, so that nothing but the sum doubts it: the sub-rows sum to
    # 150.00, but the total's 155.77 agrees with its own 执行率 and 得分, which 150.00 would break.
    form_01.form.funding.current_year_appropriation.executed = D("150.00")
    form_01.form.funding.current_year_appropriation.execution_rate = D("83.33")
    assert "form.funding.total.executed" not in suggested(form_01)


# --- weights: 分数 + Σ 分值 = 100 ---------------------------------------------------------------


def test_an_unread_weight_gets_100_less_the_others(form_01: Record) -> None:
    form_01.form.indicators[3].weight = None
    suggestion = score_record(form_01).provenance.suggestions["form.indicators[3].weight"]
    assert suggestion == Suggestion(value="6.00", because="分值 = 100 − 分数 10.00 − Σ 其他指标分值 84.00")


def test_a_figure_a_skipped_check_names_is_in_doubt_only_if_missing(form_01: Record) -> None:
    # One score unread, so 总分 and the score's own 0 ≤ 得分 ≤ 分值 cannot run; and a weight read with
    # doubt as 600 for 6.00 (its point lost under a seal). The checks that skip name every score and
    # the unread score's weight, but only the unread score is in doubt: the weights still determine
    # the misread one, and the other scores and the total still determine the unread score.
    form_01.form.indicators[6].score = None
    form_01.form.indicators[3].weight = D("600")
    suggestions = suggested(read_with_doubt(form_01, "form.indicators[3].weight"))
    assert suggestions["form.indicators[3].weight"] == "6.00"
    assert suggestions[indicator_score(6)] == "0.50"


def test_an_unread_total_weight_gets_the_sum_of_the_weights(form_01: Record) -> None:
    form_01.form.total_weight = None
    assert "form.total_weight" not in suggested(form_01)  # not printed: nothing to review
    assert suggested(read_with_doubt(form_01, "form.total_weight"))["form.total_weight"] == "100.00"


def test_a_check_failing_on_a_figure_in_doubt_does_not_veto(form_01: Record) -> None:
    # 分值 unread and 得分 misread as 6.05 with doubt: 6.00 makes 0 ≤ 得分 ≤ 分值 fail, but only because
    # of the doubtful score, so both the weight and the score get 6.00.
    form_01.form.indicators[3].weight = None
    form_01.form.indicators[3].score = D("6.05")
    suggestions = suggested(read_with_doubt(form_01, indicator_score(3)))
    assert suggestions["form.indicators[3].weight"] == "6.00" and suggestions[indicator_score(3)] == "6.00"


# --- scoring -----------------------------------------------------------------------------------


def test_suggestions_are_recomputed_on_each_scoring(form_01: Record) -> None:
    form_01.form.total_score = None
    scored = score_record(form_01)
    assert TOTAL_SCORE in scored.provenance.suggestions
    corrected = scored.model_copy(deep=True)
    corrected.form.total_score = D("98.15")
    rescored = score_record(corrected)
    assert rescored.status is Status.verified and rescored.provenance.suggestions == {}
    assert score_record(scored) == scored


def test_only_fields_needing_review_get_suggestions(form_01: Record) -> None:
    form_01.form.indicators[6].score = None
    scored = score_record(form_01)
    assert set(scored.provenance.suggestions) <= set(scored.fields_needing_review())
