"""Seams: the value types and protocols two layers meet on, kept below both so each imports them downward.

Owns ``OpTime``/``OpTimer`` and ``CostParams`` (mapping builds them, cost reads them) and ``StepShape``/
``StepCost``/``StepOracle`` (cost implements the oracle, serving calls it). Types only, no logic; may import
graph, hardware, models, workload and the bottom modules (errors, dtypes, jsonio, tableio), nothing above.
"""
