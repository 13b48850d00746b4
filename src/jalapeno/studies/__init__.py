"""Studies that join several layers (measurement, cost, serving): validation and comparisons.

Layer (docs/extending.md#layers): above report: a study runs the lower layers and renders its doc tables
with ``report.markdown``. May import report and everything below it; never measure or commands.
"""
