"""Charts drawn on the server as inline SVG (no script, no library): bar charts of a series, each
with the same numbers as a table for screen readers and for those who would rather read."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, GAP = 600, 140, 2


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: list[Bar]
    top: int  # the largest value (the chart's scale)
    total: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def summary(self) -> str:
        """What the chart shows, in words (its accessible name)."""
        if not self.bars:
            return f"{self.title}: no data"
        first, last = self.bars[0].label, self.bars[-1].label
        return f"{self.title}, {first} to {last}: {self.total} in all, at most {self.top} in one day"


def bar_chart(title: str, series: list[tuple[str, int]]) -> BarChart:
    """Bars of ``series`` (label, value), oldest first, scaled to the largest value."""
    top = max((value for _, value in series), default=0)
    step = WIDTH / max(len(series), 1)
    bars = []
    for i, (label, value) in enumerate(series):
        height = 0.0 if top == 0 else (HEIGHT - 1) * value / top
        bars.append(Bar(label, value, i * step, HEIGHT - height, max(step - GAP, 1), height))
    return BarChart(title, bars, top, sum(value for _, value in series))
