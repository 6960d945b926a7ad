"""Claims: declared up front, collected from results, 'not run' when missing."""
import pandas as pd
import pytest

from archlab.claims import Claim, collect_claims, decide, verdict, write_claims
from archlab.papers import all_claims


def test_verdict_rejects_unknown_outcomes():
    c = Claim("C1", "2", "x", "y", min_effect=1.0, min_effect_source="chosen: a test")
    assert verdict(c, "1.0", "reproduced")["verdict"] == "reproduced"
    with pytest.raises(ValueError, match="inconclusive"):
        verdict(c, "1.0", "maybe")


def test_decide():
    assert decide(True) == "reproduced" and decide(False) == "not reproduced" and decide(None) == "inconclusive"


def test_collect_marks_missing_claims_not_run(tmp_path):
    claims = all_claims()
    assert claims, "no paper declares a claim"
    first = claims[0]
    write_claims([verdict(first, "0.97", "reproduced", "cpu")], tmp_path / "nb" / "claims.csv")
    table = collect_claims(claims, tmp_path)
    assert len(table) == len(claims)
    row = table[(table.paper == first.paper) & (table.id == first.id)].iloc[0]
    assert row.verdict == "reproduced" and row.profile == "cpu"
    assert (table.drop(row.name).verdict == "not run").all()


def test_claim_ids_are_unique_per_paper():
    claims = all_claims()
    ids = pd.Series([(c.paper, c.id) for c in claims])
    assert not ids.duplicated().any()


def test_every_declared_claim_states_its_smallest_effect_and_where_it_comes_from():
    for c in all_claims():
        if c.kind == "directional":
            assert c.min_effect != 0, f"{c.paper}/{c.id}"
        if c.kind != "exact":
            assert c.min_effect_source.strip(), f"{c.paper}/{c.id}"


def test_no_precondition_restates_a_routing_or_specialisation_claim():
    """A claim about routing is judged on its measures; a precondition on routing would turn its refutation into
    "out of regime"."""
    for c in all_claims():
        names = " ".join(r.name + " " + r.text for r in c.requires).lower()
        assert "routing" not in names and "entropy" not in names, f"{c.paper}/{c.id}: {names}"
