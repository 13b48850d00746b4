"""Studies that join several layers (measurement, cost, serving): validation and comparisons."""
