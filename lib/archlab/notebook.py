"""The per-notebook session: resolved profile, device, results folder, run store and provenance.

A notebook starts with ``cfg = P.make_config(**parameters(globals(), P.Config))`` (its parameters cell's values,
named once) and ``ctx = session(P.STEM, profile=cfg.profile, seeds=...)``, and then writes everything through
``ctx``: figures (with manifest), tables and the claims verdict table.

The verdict table ``ctx.write_claims`` returns is a ``ClaimsFrame``: a DataFrame that a notebook shows as a compact
table (claim, what it says, effect [interval], verdict: every verdict in view in a 784 px column, no horizontal
scrolling) with each claim's details (kind, threshold, seeds, regime, note, ...: the columns the notebook selected)
folded behind it. ``ctx.show_claims(ids=[...])`` shows some claims' verdicts next to their figure.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import claims as _claims
from . import plots
from .paths import REPO_ROOT, results_dir, results_root
from .profiles import default_device, resolve_profile
from .provenance import provenance
from .store import RunStore


@dataclass
class Session:
    stem: str
    profile: str
    seeds: tuple
    device: object
    dir: Path
    store: RunStore
    started: float = field(default_factory=time.perf_counter)
    claims: object = None  # the ClaimsFrame write_claims wrote last

    def provenance(self, **extra) -> dict:
        return provenance(self.profile, self.seeds, self.device,
                          run_time_s=round(time.perf_counter() - self.started, 1), **extra)

    def savefig(self, fig, name: str, close: bool = False) -> Path:
        path = plots.savefig(fig, name, self.dir / "figures", self.provenance())
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        return path

    def save_table(self, df: pd.DataFrame, name: str, index: bool = False) -> Path:
        path = self.dir / f"{name}.csv"
        df.to_csv(path, index=index)
        return path

    def write_claims(self, rows: list[dict]) -> "ClaimsFrame":
        rows = [{**r, "profile": r.get("profile") or self.profile} for r in rows]
        self.claims = ClaimsFrame.of(_claims.write_claims(rows, self.dir / "claims.csv"))
        return self.claims

    def show_claims(self, ids=None, claims=None) -> None:
        """Display the compact verdicts of the claims ``ids`` (all when None), e.g. under the figure they are about.

        ``claims``: a claims table or the judged rows (``P.verdicts(...)``); default: what ``write_claims`` wrote
        last in this session. Unknown ids are refused with the ids there are.
        """
        from IPython.display import display

        table = self.claims if claims is None else claims
        if table is None:
            raise ValueError("show_claims: no claims yet; call ctx.write_claims(rows) first or pass claims=")
        display(select_claims(table, ids))


def _shown(path: Path) -> str:
    """How a results path is printed in a notebook: relative to the repository (``results/<stem>``) or to
    ``$ARCHLAB_RESULTS``, never the machine's absolute path (a stored output must not name where it was built)."""
    path = Path(path)
    for base, name in ((REPO_ROOT, ""), (results_root(), "$ARCHLAB_RESULTS")):
        try:
            return str(Path(name) / path.relative_to(base))
        except ValueError:
            continue
    return path.name


class ShownPath(type(Path())):
    """A Path that prints (f-strings, ``repr``, a cell's last value) relative to the results folder; file operations
    see the real path."""

    def __format__(self, spec):
        return format(_shown(self), spec)

    def __repr__(self):
        return f"{type(Path()).__name__}({_shown(self)!r})"

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


def session(stem: str, profile: str = "auto", seeds=(0,), store: RunStore | None = None) -> Session:
    prof = resolve_profile(profile)
    plots.set_style()
    np.random.seed(0)  # seaborn's strip-plot jitter draws from numpy's global generator: the same figure every render
    return Session(stem, prof, tuple(seeds), default_device(prof), ShownPath(results_dir(stem)),
                   store if store is not None else RunStore())


def parameters(namespace: dict, config_cls) -> dict:
    """The notebook's parameters as one dict for ``make_config``: every name of ``namespace`` (the notebook's
    ``globals()``) that is a field of ``config_cls``. Parameters are so named once, in the parameters cell."""
    return {name: namespace[name] for name in config_cls.field_names() if name in namespace}


# ----------------------------------------------------------------------------- the verdict table, compact

COMPACT = ("id", "claim", "effect", "ci_low", "ci_high", "unit", "verdict")
SHORT_CLAIM = 110  # characters: two or three lines of the claim column in a 784 px page column


class ClaimsFrame(pd.DataFrame):
    """A claims table that displays compactly (``_repr_html_``); every DataFrame operation works as before. A slice
    (``claims[["id", "kind", ...]]``) keeps the full table it came from, so the compact view always has the claim
    text, effect and verdict, and the details show the columns the slice selected."""

    _metadata = ["_archlab_full"]

    @property
    def _constructor(self):
        return ClaimsFrame

    @classmethod
    def of(cls, df: pd.DataFrame) -> "ClaimsFrame":
        out = cls(df)
        out._archlab_full = df.copy()
        return out

    def _full_rows(self) -> pd.DataFrame:
        full = getattr(self, "_archlab_full", None)
        if full is None or not {"id", "verdict"} <= set(full.columns):
            return pd.DataFrame(self)
        keys = self.index.intersection(full.index)
        return full.loc[keys] if len(keys) == len(self) else pd.DataFrame(self)  # re-indexed: show what is here

    def _repr_html_(self) -> str:
        full = self._full_rows()
        details = [c for c in self.columns if c not in COMPACT and c not in ("paper", "profile")]
        return verdicts_html(full, details or [c for c in DETAILS if c in full.columns])


DETAILS = ("kind", "threshold", "ci_method", "seeds", "regime_measured", "measured", "note")


def select_claims(table, ids=None) -> ClaimsFrame:
    """The rows of ``table`` (a claims frame or judged rows) whose id is in ``ids`` (all when None), in ``ids``'s
    order, as a ``ClaimsFrame``."""
    df = table if isinstance(table, pd.DataFrame) else _claims.normalise(pd.DataFrame(list(table)))
    df = ClaimsFrame.of(pd.DataFrame(getattr(df, "_archlab_full", df)))
    if ids is None:
        return df
    ids = [ids] if isinstance(ids, str) else list(ids)
    known = list(df["id"].astype(str))
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"show_claims: unknown claim id(s) {missing}; the claims are {known}")
    return ClaimsFrame.of(df.set_index(df["id"].astype(str)).loc[ids].reset_index(drop=True))


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def effect_text(r) -> str:
    """``+3.5 [-1.58, 8.58] pp``; an exact check (or a claim without an effect) shows what was measured instead."""
    e, lo, hi = (_num(r.get(k)) for k in ("effect", "ci_low", "ci_high"))
    unit = r.get("unit") or ""
    unit = "" if unit != unit else f" {unit}"  # NaN
    if e == e:
        interval = f" [{lo:.3g}, {hi:.3g}]" if lo == lo and hi == hi else ""
        return f"{e:+.3g}{interval}{unit}"
    measured = str(r.get("measured") or "")
    return short(measured, 80) if measured and measured != "nan" else "–"


def effect_html(r) -> str:
    """``effect_text`` for a table cell: the estimate and its interval each stay on one line, but a narrow window may
    put them (and the unit) on separate lines, so the longest effect never widens the table past the page."""
    e, lo, hi = (_num(r.get(k)) for k in ("effect", "ci_low", "ci_high"))
    if e != e:
        return html.escape(effect_text(r))
    one_line = '<span style="white-space:nowrap">{}</span>'
    parts = [one_line.format(f"{e:+.3g}")]
    if lo == lo and hi == hi:
        parts.append(one_line.format(f"[{lo:.3g}, {hi:.3g}]"))
    unit = r.get("unit") or ""
    if unit == unit and unit:
        parts.append(html.escape(str(unit)))
    return " ".join(parts)


def short(text, n: int = SHORT_CLAIM) -> str:
    text = " ".join(str(text).split())
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


_CELL = "text-align:left;vertical-align:top;white-space:normal;padding:3px 6px;"


def verdicts_html(df: pd.DataFrame, details=DETAILS) -> str:
    """The compact verdict table (id, short claim, effect [interval], verdict) and, folded under it, each claim's
    ``details`` columns as a list (text wraps: nothing is reachable only by scrolling sideways)."""
    many = df["paper"].astype(str).nunique() > 1 if "paper" in df else False
    records = [{**r, "_name": f"P{r.get('paper')} {r.get('id', '')}" if many else str(r.get("id", ""))}
               for r in df.to_dict("records")]  # ids repeat across papers
    return (f'<div class="archlab-claims" style="max-width:100%">{_compact_table(records)}'
            f"{_folded_details(records, list(details))}</div>")


def _compact_table(records: list[dict]) -> str:
    from .plots import VERDICT_COLOURS

    esc, rows = html.escape, []
    for r in records:
        colour = VERDICT_COLOURS.get(str(r.get("verdict") or ""), "#444444")
        rows.append(f'<tr><td style="{_CELL}font-weight:bold;white-space:nowrap">{esc(r["_name"])}</td>'
                    f'<td style="{_CELL}" title="{esc(str(r.get("claim", "")))}">{esc(short(r.get("claim", "")))}</td>'
                    f'<td style="{_CELL}">{effect_html(r)}</td>'
                    f'<td class="archlab-verdict" style="{_CELL}color:{colour};font-weight:bold;white-space:nowrap">'
                    f"{esc(verdict_label(r))}</td></tr>")
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("claim", "what it says", "effect [interval]", "verdict"))
    return (f'<table class="archlab-verdicts" style="width:100%;max-width:100%;table-layout:auto;margin:0">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _folded_details(records: list[dict], details: list[str]) -> str:
    if not details:
        return ""
    esc, items = html.escape, []
    for r in records:
        fields = "".join(f"<li><b>{esc(c)}</b>: {esc(_detail(r.get(c)))}</li>" for c in details if _detail(r.get(c)))
        items.append(f"<details><summary><b>{esc(r['_name'])}</b> {esc(verdict_label(r))}</summary>"
                     f'<p style="margin:2px 0">{esc(str(r.get("claim", "")))}</p>'
                     f'<ul style="margin:2px 0 6px 0">{fields}</ul></details>')
    names = ", ".join(details[:5]) + (", …" if len(details) > 5 else "")
    return (f'<details class="archlab-claim-details"><summary>Details of each claim ({esc(names)})</summary>'
            f'<div style="overflow-wrap:anywhere">{"".join(items)}</div></details>')


def verdict_label(r) -> str:
    """The verdict as a reader should count it: an exact check passes or fails, it does not reproduce a finding."""
    verdict = str(r.get("verdict") or "")
    if r.get("kind") == "exact":
        return {"reproduced": "exact: passed", "not reproduced": "exact: failed"}.get(verdict, f"exact: {verdict}")
    return verdict


def _detail(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)
