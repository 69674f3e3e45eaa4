"""The measure taxonomy: which measured quantities are comparable enough to pool.

The mapping is data (`data/families.json`), so it can be read and argued with. A family names one
interval or quantity (e.g. "host starts the VMM -> guest init runs"); a measure belongs to at
most one family, and only for the platform classes listed. Measures not listed are kept in the
evidence base but never pooled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from vmscope import units
from vmscope.model import Metric, PlatformClass
from vmscope.units import Dimension


@dataclass(frozen=True)
class Family:
    id: str
    metric: Metric
    dimension: Dimension
    display_unit: str
    lower_is_better: bool
    interval: str
    measures: tuple[str, ...]
    # live measure -> the platform classes it maps to for this family (empty = every class)
    live_measures: tuple[tuple[str, frozenset[PlatformClass]], ...]
    notes: str

    @property
    def is_boolean(self) -> bool:
        return self.dimension is Dimension.boolean


@dataclass(frozen=True)
class Taxonomy:
    families: dict[str, Family]
    # measure -> [(family id, classes or empty for all)]
    _index: dict[str, tuple[tuple[str, frozenset[PlatformClass]], ...]]

    def family_of(self, measure: str, platform_class: PlatformClass | str) -> Family | None:
        """The family a measure belongs to for a platform class, or None if it is not pooled."""
        cls = PlatformClass(platform_class)
        for fam_id, classes in self._index.get(measure, ()):
            if not classes or cls in classes:
                return self.families[fam_id]
        return None


def build_taxonomy(doc: dict) -> Taxonomy:
    """Build and check a taxonomy from its JSON document (raises ValueError on an inconsistent file)."""
    families: dict[str, Family] = {}
    index: dict[str, list[tuple[str, frozenset[PlatformClass]]]] = {}
    for raw in doc["families"]:
        dim = Dimension(raw["dimension"])
        display = raw["display_unit"]
        if dim is not Dimension.boolean and units.dimension(display) is not dim:
            raise ValueError(f"family {raw['id']}: display unit {display} is not a {dim} unit")
        live = tuple(
            (name, frozenset(PlatformClass(c) for c in classes)) for name, classes in raw["live_measures"].items()
        )
        fam = Family(
            id=raw["id"],
            metric=Metric(raw["metric"]),
            dimension=dim,
            display_unit=display,
            lower_is_better=raw["better"] == "lower",
            interval=raw["interval"],
            measures=tuple(raw["measures"]),
            live_measures=live,
            notes=raw.get("notes", ""),
        )
        if fam.id in families:
            raise ValueError(f"family {fam.id} defined twice")
        families[fam.id] = fam
        for m in fam.measures:
            index.setdefault(m, []).append((fam.id, frozenset()))
        for m, classes in live:
            index.setdefault(m, []).append((fam.id, classes))
    for measure, entries in index.items():
        # one measure may map to several families only for disjoint platform-class sets
        covered: dict[PlatformClass, str] = {}
        for fam_id, classes in entries:
            for cls in classes or frozenset(PlatformClass):
                if covered.setdefault(cls, fam_id) != fam_id:
                    raise ValueError(f"measure {measure} maps to families {covered[cls]} and {fam_id} for {cls}")
    return Taxonomy(families=families, _index={k: tuple(v) for k, v in index.items()})


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    text = resources.files("vmscope.synthesis").joinpath("data", "families.json").read_text(encoding="utf-8")
    return build_taxonomy(json.loads(text))
