"""Random but plausible forms whose arithmetic holds, for tests and sample scans."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np

from selfeval.contract.record import Form, Funding, FundingRow, Goal, Grade, Indicator

CENT = Decimal("0.01")
FUNDING_WEIGHT = Decimal("10.00")
INDICATOR_WEIGHT_TOTAL = 90

LEVEL2 = {
    "产出指标": ("数量指标", "质量指标", "时效指标"),
    "效益指标": ("社会效益指标", "经济效益指标", "生态效益指标", "可持续影响指标"),
    "满意度指标": ("服务对象满意度指标",),
    "成本指标": ("经济成本指标", "社会成本指标"),
}
LEVEL1_SHARE = {"产出指标": 0.6, "效益指标": 0.2, "满意度指标": 0.1, "成本指标": 0.1}
UNITS = ("场", "项", "人", "个", "次", "家", "份", "期", "篇", "平方米")
PLACES = ("长三角", "张江", "临港", "浦东", "全市", "区域", "国际", "高校")
TOPICS = (
    "绿色技术",
    "科技成果转化",
    "技术转移",
    "科创云平台",
    "新型研发机构",
    "科技类社会组织",
    "知识产权",
    "科普",
    "创新创业",
    "集成电路产业",
    "生物医药产业",
    "人工智能",
)
ACTIVITIES = (
    "专题研讨会",
    "对接活动",
    "培训",
    "调研",
    "展示交流",
    "平台运维",
    "数据治理",
    "评估报告",
    "宣传推广",
    "专家咨询会",
    "项目管理",
    "服务保障",
)
# Held-out random forms are about other subjects, run by other units: no development draw prints them.
HELDOUT_TOPICS = (
    "低空经济",
    "量子信息",
    "海洋装备",
    "现代农业科技",
    "城市数字化转型",
    "医疗器械创新",
    "新能源汽车",
    "碳达峰碳中和",
)
HELDOUT_UNITS_OF_WORK = ("上海市科技人才发展中心", "上海技术交易所", "上海市科学学研究所")
SUFFIXES = ("项目", "工作", "专项", "综合管理与运行", "建设项目", "服务与管理")
DEPARTMENTS = ("上海市科学技术委员会", "上海市经济和信息化委员会", "上海市教育委员会")
UNITS_OF_WORK = ("上海科学技术交流中心", "上海市科技创业中心", "上海市科学技术情报研究所")
QUALITATIVE_TARGETS = (
    "合格",
    "及时",
    "按季度安排完成",
    "控制在批复预算内",
    "按合同进度及时完成",
    "验收通过",
    "系统保持7*24不间断稳定运行，系统总故障时间小于运行时间0.01%",
    "面向企业、园区、地方政府提供公共服务，推动区域协同创新能力明显提升",
)
CLAUSES = (
    "动态更新、收储、评估国内前沿技术",
    "营造创新生态",
    "深化探索“技术+金融”服务模式",
    "服务区域绿色低碳转型",
    "推进海外分支机构建设运行",
    "培育品牌活动",
    "完成年度工作任务",
    "加强专业机构能力建设",
    "开展专题技术对接",
    "形成年度发展评估报告",
    "提升服务水平和团队能力",
    "拓宽科技合作交流领域",
    "保障系统安全稳定运行",
)
REASONS = (
    "因合作方原因推迟举办，已完成方案策划。",
    "受场地调整影响，部分活动延期至下年度。",
    "实际参与人数少于预期，下一步加强宣传组织。",
    "采购流程延长，下年度将提前启动。",
)


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def execution_rate(executed: Decimal, budget: Decimal) -> Decimal:
    """执行率 in percent, truncated to 2 decimals; 0 when there is no budget."""
    if budget == 0:
        return Decimal("0.00")
    return (executed * 100 / budget).quantize(CENT, rounding=ROUND_DOWN)


def funding_score(weight: Decimal, executed: Decimal, budget: Decimal) -> Decimal:
    """分数 × executed/budget from the exact ratio, half-up to 2 decimals, never above 分数."""
    if budget == 0:
        return Decimal("0.00")
    return min(weight, (weight * executed / budget).quantize(CENT, rounding=ROUND_HALF_UP))


def grade_for(total: Decimal) -> Grade:
    if total >= 90:
        return Grade.excellent
    if total >= 80:
        return Grade.good
    if total >= 60:
        return Grade.fair
    return Grade.poor


def random_form(seed: int, heldout: bool = False) -> Form:
    """A plausible form whose arithmetic holds; `heldout` forms come from their own stream and subjects."""
    rng = np.random.default_rng([seed, 1601, 2] if heldout else [seed, 1601])
    funding = _random_funding(rng)
    indicators = _random_indicators(rng)
    total_score = funding.total.score + sum((i.score for i in indicators), Decimal("0.00"))
    return Form(
        year=2024,
        project_name=_project_name(rng, HELDOUT_TOPICS if heldout else TOPICS),
        department=str(rng.choice(DEPARTMENTS)),
        implementing_unit=str(rng.choice(HELDOUT_UNITS_OF_WORK if heldout else UNITS_OF_WORK)),
        funding=funding,
        goals=[_random_goal(rng) for _ in range(int(rng.choice([1, 1, 1, 2, 3, 4])))],
        indicators=indicators,
        total_weight=FUNDING_WEIGHT + INDICATOR_WEIGHT_TOTAL,
        total_score=total_score,
        grade=grade_for(total_score),
    )


def _project_name(rng: np.random.Generator, topics: tuple[str, ...]) -> str:
    parts = [str(rng.choice(topics)), str(rng.choice(SUFFIXES))]
    if rng.random() < 0.4:
        parts.insert(0, str(rng.choice(PLACES)))
    if rng.random() < 0.2:
        parts.insert(-1, "及" + str(rng.choice(ACTIVITIES)))
    return "".join(parts)


# --- funding ---------------------------------------------------------------------------------


def _random_funding(rng: np.random.Generator) -> Funding:
    total_cents = int(np.exp(rng.uniform(np.log(100), np.log(600_000))))
    shares = _funding_shares(rng)
    annual = _split_cents(total_cents, shares)
    executed_ratio = 1.0 if rng.random() < 0.4 else float(rng.uniform(0.3, 1.0))
    subrows = [_sub_row(rng, cents, executed_ratio) for cents in annual]
    total = _sum_rows(subrows)
    total.weight = FUNDING_WEIGHT
    total.score = funding_score(FUNDING_WEIGHT, total.executed, total.annual_budget)
    return Funding(total=total, current_year_appropriation=subrows[0], carryover=subrows[1], other=subrows[2])


def _funding_shares(rng: np.random.Generator) -> tuple[float, float, float]:
    """Most projects are wholly funded by this year's appropriation; some mix sources."""
    pick = rng.random()
    if pick < 0.6:
        return (1.0, 0.0, 0.0)
    if pick < 0.75:
        return (0.0, 0.0, 1.0)
    if pick < 0.9:
        cut = float(rng.uniform(0.5, 0.95))
        return (cut, 1 - cut, 0.0)
    a, b, c = rng.dirichlet((3.0, 1.0, 1.0))
    return (float(a), float(b), float(c))


def _split_cents(total: int, shares: tuple[float, float, float]) -> list[int]:
    parts = [int(total * share) for share in shares]
    # Rounding leftovers go to the largest share so the sub-rows add up exactly.
    parts[int(np.argmax(shares))] += total - sum(parts)
    return parts


def _sub_row(rng: np.random.Generator, annual_cents: int, ratio: float) -> FundingRow:
    annual = money(annual_cents)
    initial = annual if rng.random() < 0.7 else money(int(annual_cents * rng.uniform(0.2, 2.0)))
    executed = money(int(annual_cents * min(1.0, ratio * rng.uniform(0.97, 1.0))))
    return FundingRow(
        initial_budget=initial,
        annual_budget=annual,
        executed=executed,
        execution_rate=execution_rate(executed, annual),
    )


def _sum_rows(rows: list[FundingRow]) -> FundingRow:
    def column(attr: str) -> Decimal:
        return sum((getattr(r, attr) for r in rows), Decimal("0.00"))

    annual, executed = column("annual_budget"), column("executed")
    return FundingRow(
        initial_budget=column("initial_budget"),
        annual_budget=annual,
        executed=executed,
        execution_rate=execution_rate(executed, annual),
    )


# --- goals -----------------------------------------------------------------------------------


def _sentence(rng: np.random.Generator, clauses: int) -> str:
    picked = rng.choice(CLAUSES, size=min(clauses, len(CLAUSES)), replace=False)
    return "，".join(str(c) for c in picked) + "。"


def _random_goal(rng: np.random.Generator) -> Goal:
    length = int(rng.choice([1, 2, 4, 8, 14]))
    expected = _sentence(rng, length)
    actual = _sentence(rng, max(1, length + int(rng.integers(-1, 4))))
    return Goal(expected=expected, actual=actual)


# --- indicators ------------------------------------------------------------------------------


def _random_indicators(rng: np.random.Generator) -> list[Indicator]:
    n = int(rng.integers(3, 31))
    slots = _level_slots(rng, n)
    weights = _random_weights(rng, n)
    miss_rate = float(rng.choice([0.0, 0.05, 0.15, 0.5]))
    return [_random_indicator(rng, l1, l2, w, miss_rate) for (l1, l2), w in zip(slots, weights, strict=True)]


def _level_slots(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    """(一级, 二级) per row, grouped so equal levels are adjacent (they print as merged cells)."""
    present = ["产出指标"] + [
        lv for lv, p in (("效益指标", 0.85), ("满意度指标", 0.85), ("成本指标", 0.3)) if rng.random() < p
    ]
    present = present[:n]
    if "成本指标" in present and rng.random() < 0.5:
        present.remove("成本指标")
        present.insert(0, "成本指标")
    share = np.array([LEVEL1_SHARE[lv] for lv in present])
    counts = 1 + rng.multinomial(n - len(present), share / share.sum())
    slots = []
    for level1, count in zip(present, counts, strict=True):
        options = LEVEL2[level1]
        chosen = sorted(rng.integers(0, len(options), size=int(count)))
        slots.extend((level1, options[k]) for k in chosen)
    return slots


def _random_weights(rng: np.random.Generator, n: int) -> list[Decimal]:
    """n positive weights adding to 90, in whole or half points."""
    step = Decimal("0.5") if rng.random() < 0.2 else Decimal(1)
    units = int(INDICATOR_WEIGHT_TOTAL / step)
    counts = 1 + rng.multinomial(units - n, rng.dirichlet(np.full(n, 2.0)))
    return [(int(c) * step).quantize(CENT) for c in counts]


def _random_indicator(
    rng: np.random.Generator, level1: str, level2: str, weight: Decimal, miss_rate: float
) -> Indicator:
    name = _indicator_name(rng, level1)
    missed = rng.random() < miss_rate
    quantitative = level2 in ("数量指标", "服务对象满意度指标") or rng.random() < 0.35
    if quantitative:
        target, actual, ratio = _quantitative(rng, level1, level2, missed)
    else:
        target, actual, ratio = _qualitative(rng, missed)
    score = min(weight, (weight * ratio).quantize(CENT, rounding=ROUND_HALF_UP))
    reason = str(rng.choice(REASONS)) if score < weight else None
    return Indicator(
        level1=level1,
        level2=level2,
        name=name,
        target=target,
        actual=actual,
        weight=weight,
        score=score,
        deviation_reason=reason,
    )


def _indicator_name(rng: np.random.Generator, level1: str) -> str:
    if level1 == "满意度指标":
        return str(rng.choice(("服务对象满意度", "参与单位满意度", "职工满意度")))
    if level1 == "成本指标":
        return "项目总成本"
    name = str(rng.choice(TOPICS)) + str(rng.choice(ACTIVITIES))
    if rng.random() < 0.3:
        name += f"（会议规模{int(rng.integers(1, 30)) * 10}人）"
    if rng.random() < 0.15:  # long enough to wrap over several lines
        name = str(rng.choice(PLACES)) + name + "，" + str(rng.choice(CLAUSES))
    return name


def _number_text(value: Decimal, decimals: bool) -> str:
    return f"{value:.2f}" if decimals else f"{value:.0f}"


def _quantitative(
    rng: np.random.Generator, level1: str, level2: str, missed: bool
) -> tuple[str, str, Decimal]:
    """(target, actual, fraction of the weight earned)."""
    if level1 == "满意度指标" or (level2 == "质量指标" and rng.random() < 0.7):
        op, value, unit = (
            str(rng.choice(["≥", ">"])),
            Decimal(int(rng.choice([80, 85, 90, 95]))),
            "百分比",
        )
    elif level2 in ("时效指标", "经济成本指标"):
        op, value, unit = (
            str(rng.choice(["≤", "<"])),
            Decimal(int(rng.integers(3, 60))),
            str(rng.choice(["天", "个工作日"])),
        )
    else:
        op, value, unit = (
            str(rng.choice(["=", "=", "≥"])),
            Decimal(int(rng.integers(1, 300))),
            str(rng.choice(UNITS)),
        )
    decimals = rng.random() < 0.5
    shown_unit = "" if rng.random() < 0.1 else f"({unit})"
    target = f"{op}{_number_text(value, decimals)}{shown_unit}"
    actual, ratio = _actual_value(rng, op, value, unit, missed)
    return target, f"{actual:.2f}{shown_unit}", ratio


def _actual_value(
    rng: np.random.Generator, op: str, value: Decimal, unit: str, missed: bool
) -> tuple[Decimal, Decimal]:
    cap = Decimal(100) if unit == "百分比" else value * 2
    if op in ("≤", "<"):
        if not missed:
            return (value - Decimal(int(rng.integers(1, int(value))))).quantize(CENT), Decimal(1)
        actual = (value * Decimal(str(round(rng.uniform(1.1, 2.0), 2)))).quantize(CENT)
        return actual, value / actual
    if not missed:
        bump = Decimal(0) if op == "=" else Decimal(int(rng.integers(1 if op == ">" else 0, 6)))
        return min(cap, value + bump).quantize(CENT), Decimal(1)
    actual = (value * Decimal(str(round(rng.uniform(0.0, 0.9), 2)))).quantize(CENT)
    return actual, actual / value


def _qualitative(rng: np.random.Generator, missed: bool) -> tuple[str, str, Decimal]:
    target = str(rng.choice(QUALITATIVE_TARGETS))
    if not missed:
        return target, "达成指标", Decimal(1)
    return target, "部分达成", Decimal(str(round(rng.uniform(0.6, 0.8), 2)))
