"""Cost: time, energy and bytes of a step on a chip (roofline plus efficiencies, calibration, validation).

Owns op timing (``op_time``), the step ``Estimator`` (``step``), parallel splits and their collectives
(``pipeline``, ``expert``, ``plans``, ``topology``, ``network``), the serving oracle (``oracle``), calibrated
parameters (``params``) and the published-benchmark fits. May import mapping (an architecture's mapper
times ops), seams, graph, hardware, models, workload and the bottom modules; never serving or above.
"""
