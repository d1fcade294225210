"""How a score, its interval and a paired verdict print: one spelling for REPORT.md and the READMEs."""
from __future__ import annotations

from typing import Callable

VALUE_FORMATS: dict[str, Callable[[float], str]] = {
    "pct": lambda v: f"{100 * v:.2f}%",  # 0.8794 -> 87.94%
    "signed_pct": lambda v: f"{100 * v:+.2f}%",  # 0.0240 -> +2.40%
    "x100": lambda v: f"{100 * v:.2f}",  # mAP 0.2174 -> 21.74
    "int": lambda v: f"{round(v):,}",  # 92288 -> 92,288
    "f4": lambda v: f"{v:.4f}",
    "sci": lambda v: f"{v:.1e}",  # 8.17e-07 -> 8.2e-07
}


def score_text(score: dict | None, fmt: str) -> str:
    """A score (stats.Score.as_dict()) with its 95% interval: `87.94% [85.58, 89.97]`."""
    if not score:
        return "n/a"
    f = VALUE_FORMATS.get(fmt, VALUE_FORMATS["f4"])
    low, high = f(score["low"]).rstrip("%"), f(score["high"]).rstrip("%")
    return f"{f(score['value'])} [{low}, {high}]"


def verdict_text(verdict: dict | None) -> str:
    """A paired verdict (stats.Verdict.as_dict()): `within noise (p=0.23)`, `better`, or why there is none."""
    if not verdict:
        return "n/a"
    detail = f"p={verdict['p_value']:.2g}" if "p_value" in verdict else verdict.get("note")
    return verdict.get("verdict", "n/a") + (f" ({detail})" if detail else "")
