"""Chip presets, the YAML loader's validation, the registry and ``jalapeno hardware``."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import time
from types import MappingProxyType

import pytest
import yaml

from jalapeno.cli import main
from jalapeno.commands.hardware import human, unit_of
from jalapeno.errors import JalapenoError
from jalapeno.hardware import (
    ALIASES,
    ChipSpec,
    chip_from_dict,
    chip_to_dict,
    list_presets,
    load_chip,
    resolve_chip,
)

PRESETS = [
    "a100-80gb-sxm",
    "b200",
    "b300",
    "gaudi3",
    "gb200-nvl72",
    "gb300-nvl72",
    "groq-lpu",
    "h100-sxm",
    "h200-sxm",
    "h800",
    "inferentia2",
    "mi300x",
    "mi325x",
    "mi355x",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "tpu-v7",
    "trainium2",
    "trainium3",
]
CHAIN = ("bf16", "fp8", "fp4")  # lower precision never runs slower on the same engine


def approx(x: float, rel: float = 1e-3) -> object:
    return pytest.approx(x, rel=rel)


def valid_dict(name: str = "h200-sxm") -> dict:
    return copy.deepcopy(chip_to_dict(resolve_chip(name)))


def load_dict(d: dict) -> ChipSpec:
    return chip_from_dict(d, origin="test.yaml")


def raises(d: dict) -> JalapenoError:
    with pytest.raises(JalapenoError) as info:
        load_dict(d)
    return info.value


# ---------------------------------------------------------------- presets


def test_list_presets() -> None:
    assert list_presets() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_is_sourced(name: str) -> None:
    chip = resolve_chip(name)
    assert chip.name == name
    assert chip.kind in ("gpu", "tpu", "asic", "lpu")
    figures = chip.figures()
    assert {"launch_year", "process_node", "tdp_w"} <= figures.keys()
    assert any(k.startswith("matrix_flops.") for k in figures)
    for path, f in figures.items():
        assert f.source.strip(), f"{name}: {path} has no source"
        assert isinstance(f.secondary, bool)
        if f.source.lower().startswith("estimate"):
            assert f.secondary, f"{name}: {path} is an estimate but not marked secondary"
            assert f.note, f"{name}: {path} is an estimate without a note saying so"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_physics(name: str) -> None:
    chip = resolve_chip(name)
    rates = [chip.peak_flops(d) for d in CHAIN if chip.peak_flops(d) is not None]
    assert rates == sorted(rates), f"{name}: {CHAIN} rates must not decrease"
    bf16 = chip.peak_flops("bf16")
    assert bf16 is not None
    for d in ("fp32", "tf32"):
        if chip.peak_flops(d) is not None:
            assert chip.peak_flops(d) <= bf16
    if chip.peak_flops("int8") is not None:
        assert chip.peak_flops("int8") >= bf16
    for f in chip.vector_flops.values():
        assert f.value < bf16, f"{name}: vector rate above the matrix rate"
    main_mem = chip.main_memory
    for level in chip.memory[1:]:
        assert not level.off_chip
        assert level.capacity_bytes.value < main_mem.capacity_bytes.value
        assert level.bandwidth_bytes_per_s.value > main_mem.bandwidth_bytes_per_s.value
    if chip.interconnect:
        assert chip.interconnect.bandwidth_bytes_per_s.value < main_mem.bandwidth_bytes_per_s.value
    if chip.idle_w:
        assert chip.idle_w.value < chip.tdp_w.value
    if chip.die_area_mm2:
        assert chip.tdp_w.value / chip.die_area_mm2.value < 2.0  # W/mm2: beyond any air or liquid cooling
    assert 2015 <= chip.launch_year.value <= 2026


def test_h100_dense_not_sparse() -> None:
    h100 = resolve_chip("h100")
    assert h100.peak_flops("bf16") == approx(989.4e12)
    assert h100.peak_flops("fp8") == approx(1978.9e12)
    assert h100.peak_flops("tf32") == approx(494.7e12)
    assert h100.memory_bytes == 80e9
    assert h100.memory_bandwidth_bytes_per_s == approx(3.35e12)
    assert h100.interconnect.bandwidth_bytes_per_s.value == 450e9  # per direction
    assert h100.tdp_w.value == 700


def test_h200_is_h100_compute_with_more_memory() -> None:
    h100, h200 = resolve_chip("h100"), resolve_chip("h200")
    assert {d: f.value for d, f in h200.matrix_flops.items()} == {
        d: f.value for d, f in h100.matrix_flops.items()
    }
    assert h200.memory_bytes == 141e9
    assert h200.memory_bandwidth_bytes_per_s == 4.8e12
    assert h200.tdp_w.value == 700
    assert h200.idle_w.value == approx(78.8)
    assert "h200-ops.json" in h200.idle_w.source


def test_other_headline_figures() -> None:
    assert resolve_chip("a100").peak_flops("bf16") == approx(312e12)
    b200 = resolve_chip("b200")
    assert (b200.peak_flops("bf16"), b200.peak_flops("fp8"), b200.peak_flops("fp4")) == (
        2.25e15,
        4.5e15,
        9e15,
    )
    assert b200.tdp_w.value == 1000
    mi300x, mi325x = resolve_chip("mi300x"), resolve_chip("mi325x")
    assert mi300x.peak_flops("bf16") == approx(1307.4e12)
    assert mi325x.peak_flops("fp8") == mi300x.peak_flops("fp8")
    assert (mi325x.memory_bytes, mi325x.tdp_w.value) == (256e9, 1000)
    assert resolve_chip("gaudi3").peak_flops("fp8") == resolve_chip("gaudi3").peak_flops("bf16") == 1835e12
    assert resolve_chip("v5e").peak_flops("bf16") == 197e12
    assert resolve_chip("v5p").peak_flops("bf16") == 459e12
    assert resolve_chip("v6e").peak_flops("bf16") == 918e12
    assert resolve_chip("trn2").peak_flops("fp8") == 1299e12
    assert resolve_chip("inf2").peak_flops("bf16") == 190e12


def test_groq_main_memory_is_on_chip_sram() -> None:
    groq = resolve_chip("groq")
    assert groq.main_memory.kind == "sram" and not groq.main_memory.off_chip
    assert groq.memory_bytes == 230e6
    assert groq.memory_bandwidth_bytes_per_s == 80e12


def test_tpu_placeholders_are_flagged() -> None:
    for name in ("tpu-v5e", "tpu-v5p", "tpu-v6e"):
        tdp = resolve_chip(name).tdp_w
        assert tdp.secondary and "estimate" in tdp.source


def test_spec_is_frozen() -> None:
    chip = resolve_chip("h100")
    with pytest.raises(dataclasses.FrozenInstanceError):
        chip.tdp_w = chip.idle_w  # type: ignore[misc]
    assert isinstance(chip.matrix_flops, MappingProxyType)
    with pytest.raises(TypeError):
        chip.matrix_flops["bf16"] = chip.tdp_w  # type: ignore[index]


@pytest.mark.parametrize("name", PRESETS)
def test_round_trip(name: str) -> None:
    chip = resolve_chip(name)
    again = load_chip(yaml.safe_dump(chip_to_dict(chip), sort_keys=False))
    assert dataclasses.replace(again, source_file=chip.source_file) == chip


# ---------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("h100", "h100-sxm"),
        ("H200", "h200-sxm"),
        ("A100", "a100-80gb-sxm"),
        ("groq", "groq-lpu"),
        ("trn2", "trainium2"),
        ("inf2", "inferentia2"),
        ("H100_SXM", "h100-sxm"),
        (" TPU v6e ", "tpu-v6e"),
        ("trillium", "tpu-v6e"),
        ("MI300X", "mi300x"),
    ],
)
def test_aliases_and_case(alias: str, name: str) -> None:
    assert resolve_chip(alias) is resolve_chip(name)


def test_every_alias_points_at_a_preset() -> None:
    assert set(ALIASES.values()) <= set(PRESETS)
    assert not set(ALIASES) & set(PRESETS)


def test_resolution_is_cached_and_fast() -> None:
    resolve_chip("h100")
    start = time.perf_counter()
    for _ in range(2000):
        resolve_chip("h100")
    assert time.perf_counter() - start < 0.2


def test_unknown_preset_lists_valid_ones() -> None:
    with pytest.raises(JalapenoError) as info:
        resolve_chip("h300")
    msg = str(info.value)
    assert info.value.field == "chip"
    assert "did you mean" in msg and all(n in msg for n in PRESETS)


def test_resolve_path(tmp_path) -> None:
    d = valid_dict("h100-sxm")
    d["name"] = "my-h100"
    d["tdp_w"]["value"] = 500
    path = tmp_path / "my-h100.yaml"
    path.write_text(yaml.safe_dump(d))
    chip = resolve_chip(str(path))
    assert (chip.name, chip.tdp_w.value, chip.source_file) == ("my-h100", 500, str(path))


def test_missing_file() -> None:
    with pytest.raises(JalapenoError, match="not found"):
        resolve_chip("/nonexistent/chip.yaml")


# ---------------------------------------------------------------- loader errors


def test_typo_key_suggests() -> None:
    d = valid_dict()
    d["matrx_flops"] = d.pop("matrix_flops")
    e = raises(d)
    assert e.field == "matrx_flops"
    assert "unknown key in chip 'h200-sxm'" in str(e)
    assert "did you mean 'matrix_flops'?" in str(e) and "valid:" in str(e)


def test_typo_dtype_and_figure_key() -> None:
    d = valid_dict()
    d["matrix_flops"]["bf61"] = d["matrix_flops"].pop("bf16")
    assert "did you mean 'bf16'" in str(raises(d))
    d = valid_dict()
    d["tdp_w"]["sorce"] = d["tdp_w"].pop("source")
    e = raises(d)
    assert e.field == "tdp_w.sorce" and "did you mean 'source'" in str(e)


def test_missing_required_field() -> None:
    d = valid_dict()
    del d["tdp_w"]
    e = raises(d)
    assert e.field == "tdp_w" and "missing required key" in str(e)
    d = valid_dict()
    del d["memory"][0]["bandwidth_bytes_per_s"]
    assert raises(d).field == "memory[0].bandwidth_bytes_per_s"


@pytest.mark.parametrize("bad", [-700, 0, -1e-9])
def test_non_positive_values(bad: float) -> None:
    d = valid_dict()
    d["tdp_w"]["value"] = bad
    e = raises(d)
    assert e.field == "tdp_w.value" and "> 0" in str(e)
    d = valid_dict()
    d["memory"][0]["capacity_bytes"]["value"] = bad
    assert raises(d).field == "memory[0].capacity_bytes.value"


def test_figure_needs_source() -> None:
    d = valid_dict()
    del d["matrix_flops"]["bf16"]["source"]
    e = raises(d)
    assert e.field == "matrix_flops.bf16.source" and "source" in str(e)
    d = valid_dict()
    d["tdp_w"] = 700  # a bare number has no source
    e = raises(d)
    assert e.field == "tdp_w" and "source" in str(e)
    d = valid_dict()
    d["tdp_w"]["source"] = "  "
    assert raises(d).field == "tdp_w.source"


@pytest.mark.parametrize("bad", ["lots", True, None, [700], {"a": 1}, "nan", "inf", float("nan")])
def test_non_numeric_values(bad: object) -> None:
    d = valid_dict()
    d["tdp_w"]["value"] = bad
    assert raises(d).field == "tdp_w.value"


def test_numeric_strings_accepted() -> None:
    text = yaml.safe_dump(valid_dict()).replace("989400000000000.0", "989.4e12")
    assert "989.4e12" in text  # PyYAML reads 989.4e12 (no sign in the exponent) as a string
    assert load_chip(text).peak_flops("bf16") == 989.4e12
    d = valid_dict()
    d["matrix_flops"]["bf16"]["value"] = "989e12"
    assert load_dict(d).peak_flops("bf16") == 989e12


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("kind",), "fpga", "kind"),
        (("memory", 0, "kind"), "hbm9", "memory[0].kind"),
        (("interconnect", "topology"), "hypercube", "interconnect.topology"),
        (("launch_year", "value"), 2024.5, "launch_year.value"),
        (("launch_year", "value"), 1850, "launch_year.value"),
        (("interconnect", "links", "value"), 1.5, "interconnect.links.value"),
        (("tdp_w", "secondary"), "yes", "tdp_w.secondary"),
        (("memory",), [], "memory"),
        (("matrix_flops",), {}, "matrix_flops"),
        (("name",), "", "name"),
        (("idle_w", "value"), 900, "idle_w.value"),
    ],
)
def test_invalid_values(path: tuple, value: object, field: str) -> None:
    d = valid_dict()
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    assert raises(d).field == field


def test_duplicate_memory_level() -> None:
    d = valid_dict()
    d["memory"][1]["name"] = "hbm"
    assert "duplicate" in str(raises(d))


def test_yaml_errors_name_file_and_line(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nvendor: [unclosed\n")
    with pytest.raises(JalapenoError, match=r"bad\.yaml:\d+"):
        load_chip(path)
    path.write_text("name: x\nname: y\n")
    with pytest.raises(JalapenoError, match=r"duplicate key 'name'"):
        load_chip(path)
    text = yaml.safe_dump(valid_dict()).replace("matrix_flops:", "matrx_flops:")
    path.write_text(text)
    line = text.splitlines().index("matrx_flops:") + 1
    with pytest.raises(JalapenoError, match=rf"bad\.yaml:{line}\)"):
        load_chip(path)


@pytest.mark.parametrize("text", ["", "- 1\n- 2", "just a string\n", "name: x"])
def test_not_a_chip(text: str) -> None:
    with pytest.raises(JalapenoError):
        load_chip(text)


# ---------------------------------------------------------------- CLI


def test_units_and_formatting() -> None:
    assert unit_of("matrix_flops.bf16") == "FLOP/s"
    assert unit_of("matrix_flops.int8") == "OP/s"
    assert unit_of("memory.hbm.bandwidth_bytes_per_s") == "B/s"
    assert unit_of("memory.hbm.capacity_bytes") == "B"
    assert unit_of("interconnect.latency_s") == "s"
    assert unit_of("memory.hbm.energy_pj_per_bit") == "pJ/bit"
    assert unit_of("interconnect.links") == ""
    assert human(989.4e12, "FLOP/s") == ("989.4", "TFLOP/s")
    assert human(9e15, "FLOP/s") == ("9,000", "TFLOP/s")
    assert human(141e9, "B") == ("141", "GB")
    assert human(2e-6, "s") == ("2", "us")
    assert human(80e9, "") == ("80", "billion")


def test_cli_wide_terminal_shows_node_and_notes(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["hardware"]) == 0
    assert "TSMC 4N" in capsys.readouterr().out
    assert main(["hardware", "show", "h100"]) == 0
    assert "with sparsity" in capsys.readouterr().out  # the note column


def test_cli_list_table(capsys) -> None:
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in PRESETS) and "989.4" in out


def test_cli_list_json_deterministic(capsys) -> None:
    assert main(["hardware", "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["hardware", "list", "--json"]) == 0
    assert capsys.readouterr().out == first
    doc = json.loads(first)
    data = doc["presets"]  # every command's JSON is an object: schema first, a list under its plural name
    assert doc["schema"] == "jalapeno.hardware/2" and [c["name"] for c in data] == PRESETS
    keys = {
        "name",
        "vendor",
        "kind",
        "peak_flops",
        "memory_bytes",
        "memory_bandwidth_bytes_per_s",
        "tdp_w",
        "idle_w",
        "die_area_mm2",
        "interconnect_bytes_per_s",
        "price_usd",
    }
    assert all(keys <= c.keys() for c in data)
    h100 = data[PRESETS.index("h100-sxm")]
    assert h100["peak_flops"]["bf16"] == 989.4e12 and h100["idle_w"] is None


def test_cli_show_json(capsys) -> None:
    assert main(["hardware", "show", "h200", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "h200-sxm" and data["idle_w"] == 78.8
    fig = data["figures"]["memory.hbm.bandwidth_bytes_per_s"]
    assert fig["value"] == 4.8e12 and fig["unit"] == "B/s" and fig["source"]
    assert data["figures"]["price_usd"]["secondary"] is True
    # manufacturing cost (an analyst estimate with its range) and the price under each rule (docs/tco.md)
    assert data["cost_usd"] == 4800 and data["figures"]["extra.cost.total_usd"]["range"] == [4080, 5520]
    assert data["price_usd_by_rule"]["street"] == 35000
    assert data["price_usd_by_rule"]["cost"] < data["price_usd_by_rule"]["margin"] < 35000


def test_cli_show_table(capsys) -> None:
    assert main(["hardware", "show", "h200"]) == 0
    out = capsys.readouterr().out
    assert "78.8" in out and "idle_w" in out and "*" in out


@pytest.mark.parametrize("argv", [["hardware", "show", "h300"], ["hardware", "show", "/no/such/chip.yaml"]])
def test_cli_bad_input(capsys, argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_cli_bad_yaml_file(capsys, tmp_path) -> None:
    path = tmp_path / "chip.yaml"
    d = valid_dict()
    d["tdp_w"]["value"] = -1
    path.write_text(yaml.safe_dump(d))
    assert main(["hardware", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tdp_w.value:") and err.count("\n") == 1


def test_cli_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jalapeno.cli", "hardware", "show", "nope"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_scale_up_chips_is_the_domain_or_one_chip() -> None:
    from dataclasses import replace

    from jalapeno.hardware import resolve_chip

    assert resolve_chip("h100-sxm").scale_up_chips == 8  # HGX board behind NVSwitch
    assert resolve_chip("gb200-nvl72").scale_up_chips == 72  # the NVL72 rack
    assert replace(resolve_chip("h100-sxm"), interconnect=None).scale_up_chips == 1  # no links: one chip
