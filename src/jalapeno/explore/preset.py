"""Write a searched design out as an architecture preset (how ``jalapeno-1.yaml`` was made).

The file is the design's architecture (``design.arch_data``) with every searched figure's source naming
the search that chose it, the design's deployment as a comment, and the header given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from jalapeno.explore.design import arch_data, deployment_of
from jalapeno.explore.space import DesignSpace


def preset_text(
    space: DesignSpace,
    design: Mapping[str, Any],
    *,
    name: str,
    description: str,
    header: str,
    provenance: str,
) -> str:
    data = arch_data(space, design, name=name, provenance=provenance)
    data["vendor"] = "Jalapeño project"
    data["description"] = description
    dep = deployment_of(space, design)
    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()]
    lines.append(f"# Deployment found with it: {dep.label()} ({dep.to_json()}).")
    lines.append(f"# Design point: {dict(design)}")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body


def write_preset(path: str | Path, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")


def jalapeno1_description(space: DesignSpace, design: Mapping[str, Any]) -> str:
    """The preset's one-line description, read off the design point (so a new reference cannot keep a stale
    one)."""
    clock = space.param("operating_point").bundles[design["operating_point"]]["clock_hz"]["value"]  # type: ignore[index]
    rows = design["cores.matrix.rows"]
    unit = "stacks" if str(design["memory"]).startswith("hbm") else "devices"
    return (
        f"Jalapeño-1: coding-inference ASIC found by search ({design['cores.count']} cores x "
        f"{design['cores.matrix.engines']} systolic {rows}x{rows} {design['dtypes'].replace('-', '/')} "
        f"arrays, {design['memory.devices']} {design['memory'].upper()} {unit}, {design['node'].upper()}, "
        f"{float(clock) / 1e9:.3g} GHz)."
    )


# The backslash joins the first two lines of the text (kept within 110 columns).
JALAPENO1_HEADER = """Jalapeño-1: the project's reference inference chip, found by co-design search for \
real-time coding traffic
(docs/jalapeno-1.md). Every figure is the design point's value in the coding-asic design space
(jalapeno/explore/spaces/coding-asic.yaml) written into its base architecture (coding-asic-base.yaml): a
searched value's source names the search, the other figures keep the sources of the base file and of the
space's bundles, derived ones name their design rule (jalapeno/explore/design.py).
Search: {search}.
Selection: {selection}.
Regenerate: python -c "from jalapeno.explore.preset import write_jalapeno1; write_jalapeno1()"
"""


def jalapeno1_text() -> str:
    """The text of ``hardware/presets/arch/jalapeno-1.yaml`` from ``explore/spaces/jalapeno-1.json``."""
    import json

    from jalapeno.explore.space import load_space

    doc = json.loads((Path(__file__).parent / "spaces" / "jalapeno-1.json").read_text(encoding="utf-8"))
    space = load_space(doc["space"])
    return preset_text(
        space,
        doc["design"],
        name="jalapeno-1",
        description=jalapeno1_description(space, doc["design"]),
        header=JALAPENO1_HEADER.format(**doc),
        provenance=f"Jalapeño-1 search ({doc['searcher']}, seed {doc['seed']}, trial {doc['trial']})",
    )


def write_jalapeno1(path: str | Path | None = None) -> Path:
    out = (
        Path(path)
        if path
        else Path(__file__).parents[1] / "hardware" / "presets" / "arch" / "jalapeno-1.yaml"
    )
    write_preset(out, jalapeno1_text())
    return out


SEARCHED_HEADER = """{title}: found by co-design search (docs/{doc}.md). \
Every figure is the design point's value in the {space}
design space (jalapeno/explore/spaces/{space}.yaml) written into its base architecture: \
a searched value's source
names the search, the other figures keep the sources of the base file and of the space's bundles, derived ones
name their design rule (jalapeno/explore/design.py).
Search: {search}.
Chosen from: {chosen}.
Regenerate: python -c "from jalapeno.explore.preset import write_searched_preset; \
write_searched_preset('{design}', '{name}')"
"""


def searched_preset_text(
    design_file: str | Path, name: str, *, title: str = "Jalapeño-MoE-1", doc: str = "jalapeno-moe"
) -> str:
    """An architecture preset from a design record (``{"space", "design", "search", "chosen_from", ...}``)."""
    import json

    from jalapeno.explore.space import load_space

    rec = json.loads(Path(design_file).read_text(encoding="utf-8"))
    space = load_space(rec["space"])
    d = rec["design"]
    clock = space.param("operating_point").bundles[d["operating_point"]]["clock_hz"]["value"]  # type: ignore[index]
    rows = d["cores.matrix.rows"]
    description = (
        f"{title}: MoE coding-inference ASIC and network found by search ({d['cores.count']} cores x "
        f"{d['cores.matrix.engines']} systolic {rows}x{rows} {d['dtypes'].replace('-', '/')} arrays, "
        f"{d['memory.devices']} {str(d['memory']).upper()} devices, {d['node'].upper()}, "
        f"{float(clock) / 1e9:.3g} GHz; {d['links.count']} links x {d['links.lanes']} lanes, "
        f"scale-up {d['scale_up']})."
    )
    header = SEARCHED_HEADER.format(
        title=title,
        doc=doc,
        space=rec["space"],
        search=rec["search"],
        chosen="; ".join(rec.get("chosen_from", [])),
        design=f"src/jalapeno/explore/spaces/{Path(design_file).name}",
        name=name,
    )
    return preset_text(
        space,
        d,
        name=name,
        description=description,
        header=header,
        provenance=f"{title} search ({rec.get('searcher', '')}, seed {rec.get('seed', 0)}; chosen: "
        f"{'; '.join(c.split(' (')[0] for c in rec.get('chosen_from', []))})",
    )


def write_searched_preset(design_file: str | Path, name: str, path: str | Path | None = None) -> Path:
    out = Path(path) if path else Path(__file__).parents[1] / "hardware" / "presets" / "arch" / f"{name}.yaml"
    write_preset(out, searched_preset_text(design_file, name))
    return out
