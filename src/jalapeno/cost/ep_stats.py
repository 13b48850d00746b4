"""Two statistics of wide expert parallelism, in closed form: how many nodes a token's experts reach, and
how much longer the slowest data-parallel attention rank runs than the mean one.

**Distinct nodes a token reaches** (``expected_nodes``). DeepSeek-V3 limits each token to at most M = 4
nodes (arXiv:2412.19437, section 2.1.2, "Node-Limited Routing"; section 3.2.2: "each token is dispatched to
at most 4 nodes", IB traffic once a node, then forwarded over NVLink to the GPUs that host its experts). Its
``config.json`` expresses the limit as ``n_group = 8`` groups of 32 experts with ``topk_group = 4`` groups a
token (the groups were the 8 nodes of training). Routing model: the token's ``groups_per_token`` groups are
drawn uniformly without replacement, then its top-k experts uniformly without replacement among those groups'
experts (DeepEP's own benchmark, ``tests/test_internode.py``, routes random scores the same way: top groups,
then top-k inside them). Where whole groups sit on a node (``groups % nodes == 0``: DeepSeek's EPLB packs
groups onto nodes when the node count divides the group count, github.com/deepseek-ai/EPLB, ``eplb.py``,
hierarchical policy) or a group fills whole nodes (``nodes % groups == 0``), a node holds ``h`` experts of
each of its groups and misses the token with probability

    sum_j P(j of its groups chosen) x C(pool - j h, k) / C(pool, k),   pool = groups_per_token x group size,

j hypergeometric; the token reaches ``nodes x (1 - P(miss))`` nodes, its own among them with the same
probability, so ``(nodes - 1) x (1 - P(miss))`` remote ones. Otherwise (groups not aligned with nodes, or no
groups) the experts are drawn uniformly from all of them. Redundant replicas are not counted (a token may find
a replica on a node it reaches anyway; this only lowers the count).

**Slowest attention rank** (``dp_attention_imbalance``). With data-parallel attention over R ranks, each
holding B sequences whose KV lengths are independent with coefficient of variation ``cv``, a rank's
attention load (the sum of its B KV lengths) is near-normal with mean B mu and standard deviation
mu cv sqrt(B); the slowest of R ranks sets the step, so its load over the mean is 1 + z_R cv / sqrt(B),
z_R = E[max of R standard normals] (computed by quadrature, ``expected_max_normal``).
"""

from __future__ import annotations

import math
from functools import cache

from jalapeno.errors import JalapenoError


def _comb_ratio(total: int, removed: int, k: int) -> float:
    """C(total - removed, k) / C(total, k): none of ``k`` draws without replacement hits ``removed`` items."""
    if removed <= 0:
        return 1.0
    if total - removed < k:
        return 0.0
    return math.prod((total - removed - i) / (total - i) for i in range(k))


def _hypergeom(population: int, marked: int, draws: int, j: int) -> float:
    """P(exactly ``j`` marked among ``draws`` drawn without replacement from ``population``)."""
    if j > marked or draws - j > population - marked or j < 0:
        return 0.0
    return math.comb(marked, j) * math.comb(population - marked, draws - j) / math.comb(population, draws)


@cache
def expected_nodes(experts: int, top_k: int, nodes: int, groups: int = 1, groups_per_token: int = 1) -> float:
    """Expected distinct nodes a token's ``top_k`` experts fall on, ``experts`` spread evenly over
    ``nodes``, under group-limited uniform routing (module docstring). At most ``min(top_k, nodes)``, and
    at most ``groups_per_token x`` the nodes a group spans when groups align with nodes."""
    if nodes < 1 or experts % nodes or top_k > experts or groups < 1 or experts % groups:
        raise JalapenoError(
            f"{experts} experts (top-{top_k}, {groups} groups) over {nodes} nodes must split evenly",
            field="ep",
        )
    if nodes == 1:
        return 1.0
    if groups % nodes and nodes % groups:  # groups not aligned with nodes: no limit on nodes
        groups = groups_per_token = 1
    size = experts // groups  # experts a group
    # a node holds ``own`` groups whole, or ``h`` experts of one group that spans several nodes
    own, h = (groups // nodes, size) if groups >= nodes else (1, experts // nodes)
    pool = groups_per_token * size
    miss = sum(
        _hypergeom(groups, own, groups_per_token, j) * _comb_ratio(pool, j * h, top_k)
        for j in range(min(own, groups_per_token) + 1)
    )
    return nodes * (1.0 - miss)


def remote_nodes(experts: int, top_k: int, nodes: int, groups: int = 1, groups_per_token: int = 1) -> float:
    """Expected nodes other than the token's own that it is sent to (once each, per-node deduplication)."""
    if nodes <= 1:
        return 0.0
    return expected_nodes(experts, top_k, nodes, groups, groups_per_token) * (nodes - 1) / nodes


@cache
def expected_max_normal(n: int) -> float:
    """E[max of ``n`` independent standard normals]: integral of x n phi(x) Phi(x)^(n-1) over x (midpoint
    rule on [-9, 9], 36,000 steps; exact to ~1e-9 for n up to thousands). 0 for n = 1."""
    if n < 1:
        raise JalapenoError(f"must be >= 1, got {n}", field="dp")
    if n == 1:
        return 0.0
    lo, steps = -9.0, 36000
    dx = 18.0 / steps
    total = 0.0
    for i in range(steps):
        x = lo + (i + 0.5) * dx
        pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
        total += x * n * pdf * cdf ** (n - 1)
    return total * dx


def dp_attention_imbalance(ranks: int, seqs_per_rank: int, cv: float) -> float:
    """The slowest of ``ranks`` attention replicas' KV load over the mean, each holding ``seqs_per_rank``
    sequences of KV lengths with coefficient of variation ``cv`` (independent draws; module docstring)."""
    if cv < 0 or seqs_per_rank < 1:
        raise JalapenoError(f"cv >= 0 and >= 1 sequence a rank, got {cv!r}, {seqs_per_rank}", field="cv")
    return 1.0 + expected_max_normal(ranks) * cv / math.sqrt(seqs_per_rank)
