"""Generated command lines for the CLI fuzz suite (tests/test_cli_fuzz.py, benchmarks/fuzz_cli.py).

Each input is a small, valid base command (fast: a few requests, a tiny model), zero to three valid extra
options, and exactly one invalid element: a number beyond its option's bound or not a number, NaN or inf, a
hostile file (tests/data/hostile) or a hostile name where a file or name is asked for, an output path that
cannot be written, or an unknown option. So every input is invalid, and the contract is: exit 2, one
``error:`` line, no traceback, within the time limit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

HOSTILE = Path(__file__).parent / "data" / "hostile"
HOSTILE_FILES = [*sorted(str(p) for p in HOSTILE.iterdir()), "/dev/zero", "/dev/null", "/", "/nonexistent/x"]
HOSTILE_NAMES = [
    "acc [v2]",
    "[/]",
    "[bold]x[/bold]",
    "",
    " ",
    "-",
    "--",
    "\x00",
    "é" * 300,
    "a" * 5000,
    "../../etc/passwd",
    "%s%n",
    "${HOME}",
    "NaN",
    "inf",
    "1e308",
    "qwen2.5-coder-32b/",
    "h200.yaml",
    "config.json",
]
NOT_NUMBERS = [
    "x",
    "",
    "1.5.2",
    "0x10",
    "1e",
    "--",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "Infinity",
    "9" * 5000,
    "1e308",
    "-1e308",
    "\x00",
]


@dataclass(frozen=True)
class Num:
    """A numeric option: its valid range (``hi`` None: unbounded) and the valid values drawn for extras."""

    flag: str
    lo: float
    hi: float | None
    valid: tuple[str, ...]
    integer: bool = True
    strict_lo: bool = False  # lo itself is invalid

    def invalid(self, rng: random.Random) -> str:
        below = self.lo if self.strict_lo else self.lo - (1 if self.integer else self.lo * 0.5 + 1e-3)
        choices = [below, -1e9]
        if self.hi is not None:
            choices += [self.hi + 1, self.hi * 10 + 7, 1e15]
        v = rng.choice(choices)
        text = str(int(v)) if self.integer and abs(v) < 1e18 else repr(float(v))
        return rng.choice(
            [
                text,
                text,
                rng.choice(
                    NOT_NUMBERS if self.integer else ["nan", "inf", "-inf", "x", "", "1e400", "-1e400"]
                ),
            ]
        )


@dataclass(frozen=True)
class Cmd:
    base: tuple[str, ...]
    nums: tuple[Num, ...] = ()
    files: tuple[str, ...] = ()  # options (or "" for the positional argument) that take a file or a name
    outputs: tuple[str, ...] = ()  # options that take an output path
    choices: tuple[str, ...] = ()  # options that take a name from a fixed list


M = "llama-3.2-1b"
SERVE = Cmd(
    ("serve", "-m", M, "--limit", "3", "-q"),
    (
        Num("--replicas", 1, 10_000, ("1", "2")),
        Num("--tp", 1, 4096, ("1", "2")),
        Num("--pp", 1, 4096, ("1",)),
        Num("--max-num-seqs", 1, None, ("8", "256")),
        Num("--max-num-batched-tokens", 1, None, ("512", "8192")),
        Num("--max-model-len", 1, 131_072, ("8192",)),
        Num("--start-s", 0, 1e9, ("0", "5"), integer=False),
        Num("--duration-s", 0, 1e9, ("60",), integer=False, strict_lo=True),
        Num("--rate", 1e-9, 1e9, ("1", "4.5"), integer=False),
        Num("--seed", 0, None, ("0", "7")),
        Num("--ttft-slo", 0, 1e9, ("0.5", "2"), integer=False, strict_lo=True),
        Num("--tpot-slo", 0, 1e9, ("0.05",), integer=False, strict_lo=True),
        Num("--trace-events", 10, None, ("1000",)),
        Num("--decode-tp", 1, 4096, ()),  # disagg only: no valid value to draw (refused without it)
        Num("--decode-ep", 1, 4096, ()),
    ),
    files=("--trace", "--model", "--hardware"),
    outputs=("--trace-out",),
    choices=("--scheduler", "--router", "--preemption", "--arrivals", "--price-rule", "--dtype", "--engine"),
)
ESTIMATE = Cmd(
    ("estimate", "-m", M, "--json"),
    (
        Num("--batch", 1, 1_048_576, ("1", "8")),
        Num("--context", 1, 131_072, ("128", "2048")),
        Num("--prompt", 1, 131_072, ("64",)),
        Num("--tp", 1, 65_536, ("1", "2")),
        Num("--pp", 1, 65_536, ("1",)),
    ),
    files=("--model", "--hardware"),
    choices=("--dtype", "--kv-dtype", "--act-dtype"),
)
GRAPH = Cmd(
    ("graph", "-m", M, "--json"),
    (
        Num("--batch", 0, 1_048_576, ("0", "4")),
        Num("--context", 1, 131_072, ("16", "2048")),
        Num("--prompt", 1, 131_072, ("32",)),
        Num("--cached", 0, None, ("0",)),
    ),
    files=("--model",),
    choices=("--dtype",),
)
PLAN = Cmd(
    ("chip", "plan", "-m", M, "-H", "h100", "--json"),
    (
        Num("--batch", 1, 1_048_576, ("1", "8")),
        Num("--context", 1, 131_072, ("256",)),
        Num("--max-chips", 1, 65_536, ("1", "8")),
    ),
    files=("--model", "--hardware"),
    choices=("--dtype",),
)
MAP = Cmd(
    ("chip", "map", "-m", M, "-H", "jalapeno-1", "--json"),
    (
        Num("--batch", 1, 1_048_576, ("1", "4")),
        Num("--context", 1, 131_072, ("256",)),
        Num("--tp", 1, 65_536, ("1", "2")),
    ),
    files=("--model", "--hardware"),
)
EXPLORE = Cmd(
    ("explore", "--json", "-q"),
    (Num("--trials", 1, 100_000, ()), Num("--workers", 1, 1024, ())),
    files=("--space", "--workload", "--enqueue"),
    outputs=("--db",),
    choices=("--searcher", "--price-rule"),
)
SHOWS = [
    Cmd(("models", "show"), files=("",)),
    Cmd(("hardware", "show"), files=("",)),
    Cmd(("chip", "show"), files=("",)),
    Cmd(("traces", "show"), files=("",)),
]
VALIDATE = Cmd(("validate",), files=("--measurements", "--serve"), outputs=("--doc",))
REPORT = Cmd(
    ("report", "--quick"),
    (Num("--trials", 1, 100_000, ()), Num("--workers", 1, 1024, ())),
    outputs=("--out", "--db"),
)
EXPORT = Cmd(
    ("traces", "export", "azure-code", "-o", "/tmp/jalapeno-fuzz-export.csv"),
    (
        Num("--limit", 1, None, ("3",)),
        Num("--start-s", 0, 1e9, ("0",), integer=False),
        Num("--duration-s", 0, 1e9, ("60",), integer=False, strict_lo=True),
    ),
    outputs=("--out",),
    choices=("--format",),
)
# added with schema 2 (the entry points the first runs left out); their base commands are valid and fast, so
# an input is invalid only through its one bad element
BENCH = Cmd(
    ("bench", "-s", "fixed", "-m", M, "--isl", "8", "--osl", "8", "--json"),
    (
        Num("--tp", 1, 4096, ("1", "2")),
        Num("--replicas", 1, 10_000, ("1",)),
        Num("--isl", 1, 131_064, ("8", "64")),
        Num("--osl", 1, 131_064, ("8",)),
        Num("--requests", 1, 1_000_000, ("16",)),
        Num("--concurrency", 1, 1_048_576, ("4",)),
        Num("--seed", 0, None, ("0",)),
        Num("--max-num-seqs", 1, 1_048_576, ("64",)),
        Num("--max-num-batched-tokens", 1, None, ("8192",)),
    ),
    files=("--model", "--hardware"),
    choices=("--dtype", "--engine", "--scenario"),
)
COMPARE = Cmd(
    ("compare", "-w", "azure-code", "--chips", "h200,jalapeno-1", "--quick", "--workers", "1", "--json"),
    (Num("--samples", 1, 1_000, ()), Num("--seed", 0, None, ()), Num("--workers", 1, 1024, ())),
    files=("--workload", "--chips"),
)
CALIBRATE = Cmd(
    ("calibrate", "--chip", "h200-sxm", "--fit-sources", "v9.9/none/offline", "--json"),
    files=("--chip", "--published"),
    outputs=("--doc",),
    choices=("--check-with",),
)
MEASURE = Cmd(
    ("measure", "ops", "--out", "/tmp/jalapeno-fuzz-measure.json", "--quick", "--device", "cpu", "--json"),
    (Num("--budget-s", 0, None, (), integer=False), Num("--energy-s", 0, 600, (), integer=False)),
    outputs=("--out",),
    choices=("--device",),
)
COMMANDS = [
    SERVE,
    ESTIMATE,
    GRAPH,
    PLAN,
    MAP,
    EXPLORE,
    *SHOWS,
    VALIDATE,
    REPORT,
    EXPORT,
    BENCH,
    COMPARE,
    CALIBRATE,
    MEASURE,
]
BAD_OUTPUTS = ["/nonexistent/dir/out.x", "/", "/proc/version", "/dev/null/x"]
BAD_CHOICES = ["", "x", "BF16", "VLLM", "[/]", "random "]


def generate(rng: random.Random) -> list[str]:
    """One invalid command line."""
    cmd = rng.choice(COMMANDS)
    argv = list(cmd.base)
    for num in rng.sample(cmd.nums, k=min(len(cmd.nums), rng.randint(0, 3))):
        if num.valid:
            argv += [num.flag, rng.choice(num.valid)]
    kinds = (
        ["unknown"]
        + ["num"] * bool(cmd.nums)
        + ["file"] * 2 * bool(cmd.files)
        + ["output"] * bool(cmd.outputs)
        + ["choice"] * bool(cmd.choices)
    )
    kind = rng.choice(kinds)
    if kind == "num":
        num = rng.choice(cmd.nums)
        argv += [num.flag, num.invalid(rng)]
    elif kind == "file":
        flag = rng.choice(cmd.files)
        value = rng.choice(HOSTILE_FILES + HOSTILE_NAMES)
        argv += [value] if flag == "" else [flag, value]
    elif kind == "output":
        argv += [rng.choice(cmd.outputs), rng.choice(BAD_OUTPUTS)]
    elif kind == "choice":
        argv += [rng.choice(cmd.choices), rng.choice(BAD_CHOICES)]
    else:
        argv += [rng.choice(["--no-such-option", "-Z", "--json=3", "--tp=", "---", "extra-argument"])]
    return argv


# ---------------------------------------------------------------- valid combinations (no traceback allowed)
CHOICES = {
    "--scheduler": ("vllm", "sarathi", "prefill_first", "disagg"),
    "--topology": ("colocated", "disagg", "x"),
    "--router": ("round_robin", "least_loaded", "x"),
    "--preemption": ("recompute", "swap"),
    "--arrivals": ("trace", "poisson"),
    "--price-rule": ("margin", "cost", "street"),
    "--dtype": ("bf16", "fp8", "int4", "nvfp4", "fp32"),
    "--kv-dtype": ("bf16", "fp8", "int8"),
    "--act-dtype": ("bf16", "fp8"),
    "--engine": ("fused", "calibration"),
}
MODELS = ("llama-3.2-1b", "qwen2.5-coder-1.5b", "qwen3-coder-30b-a3b", "gpt-oss-20b", "mistral-7b")
CHIPS = ("h100", "h200", "b200", "mi300x", "tpu-v5e", "groq-lpu", "jalapeno-1", "gaudi3", "trainium2")
TRACES = (
    "azure-code",
    "azure-conv",
    "conversation_trace.jsonl",
    "round_trace.jsonl",
    "synthetic_trace.jsonl",
)
SERVE_EXTRAS = [
    ["--prefix-cache"],
    ["--speculative", "3", "--acceptance", "0.7"],
    ["--tier-gb", "64"],
    ["--tier-gb", "8", "--preemption", "swap"],
    ["--decode-hardware", "h100"],
    ["--kv-link-gbps", "0.01"],
    ["--prefill-replicas", "2"],
    ["--draft-cost", "0.1"],
]


def _valid_value(num: Num, rng: random.Random) -> str:
    if num.integer:
        top = int(min(num.hi if num.hi is not None else 64, 64))
        return rng.choice([*num.valid, str(rng.randint(int(num.lo), max(int(num.lo), top)))])
    lo = max(num.lo, 1e-3) if not num.strict_lo or num.lo > 0 else 1e-3
    hi = min(num.hi if num.hi is not None else 1e3, 1e3)
    return rng.choice([*num.valid, f"{lo * (hi / lo) ** rng.random():.6g}"])


def generate_valid(rng: random.Random) -> list[str]:
    """A command line of in-range values (possibly still refused as a combination): any exit code but no
    traceback and no hang. Searches (explore, report) and calibration are left out: they run for minutes."""
    cmd = rng.choice([SERVE, SERVE, ESTIMATE, GRAPH, PLAN, MAP])
    argv = list(cmd.base)
    if "-m" in argv:
        argv[argv.index("-m") + 1] = rng.choice(MODELS)
    for num in rng.sample(cmd.nums, k=min(len(cmd.nums), rng.randint(0, 4))):
        argv += [num.flag, _valid_value(num, rng)]
    for flag in rng.sample(cmd.choices, k=min(len(cmd.choices), rng.randint(0, 2))):
        argv += [flag, rng.choice(CHOICES[flag])]
    if "--hardware" in cmd.files and rng.random() < 0.7:
        argv += ["-H", rng.choice(CHIPS)]
    if cmd is SERVE:
        if rng.random() < 0.5:
            argv += ["-t", rng.choice(TRACES)]
        if rng.random() < 0.4:
            argv += rng.choice(SERVE_EXTRAS)
    return argv
