"""archlab.report: two claims tables side by side, claim by claim."""
import math

import pandas as pd

from archlab.claims import COLUMNS
from archlab.report import compare, markdown


def _row(pid, cid, verdict, effect=math.nan, low=math.nan, high=math.nan, kind="directional"):
    r = dict.fromkeys(COLUMNS, "")
    r.update(paper=pid, id=cid, kind=kind, verdict=verdict, effect=effect, ci_low=low, ci_high=high)
    return r


def test_compare_flags_exactly_the_changed_claim():
    ref = pd.DataFrame([_row("1", "C1", "reproduced", 2.0, 1.0, 3.0), _row("1", "C2", "inconclusive", 0.5, -1, 2),
                        _row("2", "C1", "reproduced", kind="exact")])
    new = pd.DataFrame([_row("1", "C1", "reproduced", 2.2, 1.1, 3.3), _row("1", "C2", "not reproduced", 2.5, 2.1, 2.9),
                        _row("2", "C1", "reproduced", kind="exact")])
    t = compare(ref, new).set_index(["paper", "id"])
    assert list(t.same_verdict) == [True, False, True]
    assert t.loc[("1", "C1"), "inside_ref_interval"] is True
    assert t.loc[("1", "C2"), "inside_ref_interval"] is False  # 2.5 outside [-1, 2]
    assert t.loc[("2", "C1"), "inside_ref_interval"] is None  # an exact check has no interval
    md = markdown(compare(ref, new), changed_only=True)
    assert md.count("\n") == 2 and "| 1 | C2 | directional | inconclusive | not reproduced |" in md


def test_a_claim_on_one_side_only_is_kept():
    t = compare(pd.DataFrame([_row("1", "C1", "reproduced")]), pd.DataFrame([_row("1", "C9", "inconclusive")]))
    assert set(t.id) == {"C1", "C9"} and not t.same_verdict.any()
