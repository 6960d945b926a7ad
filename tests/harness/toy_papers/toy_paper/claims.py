"""The claim, declared before any run, and its verdict through the shared outcome rules."""
from archlab.claims import Claim
from archlab.outcomes import Regime, directional, judge, not_run

CONVERGED = Regime("converged", "final training loss", "<", 0.5)
CLAIMS = [Claim("C1", "9", "A two-layer MLP classifies the two spirals better than chance.",
                "test accuracy above 50% by at least 10 points, 95% interval over seeds", unit="pp", min_effect=10.0,
                requires=(CONVERGED,), min_effect_source="chosen: a margin no lucky split reaches")]


def verdicts(runs, profile=None) -> list[dict]:
    (c,) = CLAIMS
    ok = runs[runs.status == "ok"] if len(runs) else runs
    if not len(ok):
        return [judge(c, not_run("no finished runs"), regimes={"converged": None}, profile=profile)]
    return [judge(c, directional(c, ok.test_acc.to_numpy(), 0.5, scale=100.0),
                  regimes={"converged": ok.train_loss.to_numpy()}, profile=profile)]
