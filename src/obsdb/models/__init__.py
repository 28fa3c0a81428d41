"""Pydantic models mirroring obsdb's tables column for column (001-005, 010, 011; bookkeeping excluded).

Each model validates what its table's CHECKs enforce, and a little more the schema implies
(prices never negative, bars consistent, timestamps time-zone aware), so a row that validates here
loads, and a row read back validates to an equal model.
"""

from __future__ import annotations

from .analysis import AnalysisRollingStats, AnalysisSignalEvent, AnalysisSignalOutcome, AnalysisThresholdCandidate
from .base import TableModel
from .portfolio import (
    PortfolioPolicy,
    PortfolioPosition,
    PortfolioSnapshot,
    RebalanceExecution,
    RebalanceOrder,
    RebalancePlan,
    TargetWeight,
)
from .scalp import FEED_SYMBOL, Scalp1mBar, ScalpGap, ScalpTick
from .swing import SwingBar10m, SwingSnapshot
from .universe import SymbolUniverse, SymbolUniverseList

__all__ = [
    "ALL_MODELS",
    "FEED_SYMBOL",
    "AnalysisRollingStats",
    "AnalysisSignalEvent",
    "AnalysisSignalOutcome",
    "AnalysisThresholdCandidate",
    "PortfolioPolicy",
    "PortfolioPosition",
    "PortfolioSnapshot",
    "RebalanceExecution",
    "RebalanceOrder",
    "RebalancePlan",
    "Scalp1mBar",
    "ScalpGap",
    "ScalpTick",
    "SwingBar10m",
    "SwingSnapshot",
    "SymbolUniverse",
    "SymbolUniverseList",
    "TableModel",
    "TargetWeight",
    "model_for",
]

ALL_MODELS: tuple[type[TableModel], ...] = (
    ScalpTick,
    Scalp1mBar,
    ScalpGap,
    SwingSnapshot,
    SwingBar10m,
    PortfolioPolicy,
    TargetWeight,
    PortfolioSnapshot,
    PortfolioPosition,
    RebalancePlan,
    RebalanceOrder,
    RebalanceExecution,
    AnalysisRollingStats,
    AnalysisThresholdCandidate,
    AnalysisSignalEvent,
    SymbolUniverseList,
    SymbolUniverse,
    AnalysisSignalOutcome,
)
"""Every table model, in migration (creation) order: parents before the tables that reference them."""

_BY_TABLE: dict[str, type[TableModel]] = {model.__table__: model for model in ALL_MODELS}


def model_for(table: str) -> type[TableModel]:
    """The model of ``table``; KeyError naming the known tables when there is none."""
    try:
        return _BY_TABLE[table]
    except KeyError:
        raise KeyError(f"no model for table {table!r}; known tables: {', '.join(_BY_TABLE)}") from None
