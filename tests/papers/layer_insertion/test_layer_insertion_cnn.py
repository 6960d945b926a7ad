"""Paper 4's CNN variant (E5b): the op22 norm, the exact sensitivity-pass FLOPs, the cnn study and its verdicts."""
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from archlab import create_model
from archlab.papers.layer_insertion.insertion import (FlopMeter, op_norm_sq, sensitivities, sensitivity,
                                                     virtual_gradients)


def conv_operator_matrix(kernel, n):
    """The (out*n*n, in*n*n) matrix of a 3x3 conv on n x n inputs, built by applying it to every basis image.
    Circular padding: that operator is what the FFT theory (Sedghi et al. 2019) describes exactly; the net's zero
    padding differs only at the borders."""
    c_in = kernel.shape[1]
    basis = torch.eye(c_in * n * n, dtype=kernel.dtype).view(-1, c_in, n, n)
    out = F.conv2d(F.pad(basis, (1, 1, 1, 1), mode="circular"), kernel)
    return out.flatten(1).T


def test_op22_by_fft_is_the_squared_largest_singular_value_of_the_conv_operator():
    torch.manual_seed(0)
    for c_out, c_in, n in ((3, 2, 5), (4, 4, 6), (2, 3, 3)):
        k = torch.randn(c_out, c_in, 3, 3, dtype=torch.float64)
        explicit = torch.linalg.matrix_norm(conv_operator_matrix(k, n), ord=2) ** 2
        assert torch.isclose(op_norm_sq(k, (n, n)), explicit, rtol=1e-10)
    w = torch.randn(5, 4, dtype=torch.float64)
    assert torch.isclose(op_norm_sq(w), torch.linalg.svdvals(w)[0] ** 2)
    with pytest.raises(ValueError, match="input size"):
        op_norm_sq(k, (2, 2))


def test_vgg_sensitivities_both_norms_and_the_input_sizes():
    torch.manual_seed(1)
    m = create_model("growing_vgg", widths=(4, 8, 8), image_size=16).double()
    x, y = torch.randn(8, 3, 16, 16, dtype=torch.float64), torch.randint(10, (8,))
    grads, sizes, _ = virtual_gradients(m, (x, y))
    assert sizes == [(16, 16), (8, 8), (4, 4)] and [g.shape[0] for g in grads] == [4, 8, 8]
    op22, fro = sensitivities(m, (x, y), norm="op22"), sensitivities(m, (x, y))
    assert torch.equal(fro, sensitivity(grads, sizes, "fro")) and (op22 > 0).all()
    # Per frequency ||P||_2 <= sum of the 9 taps' norms <= 3 ||G||_F; Parseval: the frequencies' ||P||_F^2 average
    # ||G||_F^2, and ||P||_2^2 >= ||P||_F^2 / channels. So ||G||_F^2 / channels <= op22 <= 9 ||G||_F^2.
    assert all(f / g.shape[0] <= o <= 9 * f for o, f, g in zip(op22, fro, grads))
    with pytest.raises(ValueError, match="op22"):
        sensitivities(m, (x, y), norm="spectral")


def test_sensitivity_pass_flops_are_exact():
    """Extended net, per image: forward F + 3C; backward only what the virtual kernels need: their weight grads
    (3C) and input grads back to the first candidate (head, MLP, conv3, candidate 2, conv2, candidate 1)."""
    torch.manual_seed(0)
    m = create_model("growing_vgg")
    x, y = torch.randn(1, 3, 32, 32), torch.zeros(1, dtype=torch.long)
    meter = FlopMeter()
    with meter.count():
        virtual_gradients(m, (x, y))
    base, cand, conv23, mlp = 83_642_416, 75_497_472, 37_748_736, 2 * (4096 * 500 + 500 * 500 + 500 * 10)
    assert meter.total == (base + 3 * cand) + 3 * cand + (2 * cand + 2 * conv23 + mlp)


def test_cnn_study_smoke_end_to_end(store):
    from archlab.papers import layer_insertion as P
    from archlab.papers.layer_insertion import analysis

    frames = P.run(P.make_config(profile="smoke", studies=["cnn"]), store=store)
    df = frames["cnn"]
    assert (df["status"] == "ok").all() and sorted(df["method"].unique()) == ["large", "min", "sensli", "small"]
    for r in df[df["method"].isin(["sensli", "min"])].itertuples():
        ins = r.result["insertions"][0]
        assert ins["norm"] == "op22" and len(ins["sensitivities"]) == len(ins["sensitivities_fro"]) == 3
        # Dirac candidates are exact identities (0.0 here); a float32 conv algorithm that rounds (Winograd) errs by
        # at most ~K u = 72 * 6e-8 ~ 4e-6 relative per activation; a candidate that is not the identity moves the
        # loss by O(0.1). 1e-4 separates the two on any machine.
        assert abs(ins["loss_jump"]) < 1e-4 and r.position == ins["position"]
        assert len(r.result["evals"]) == 5 and r.result["evals"][-1]["epoch"] == 4
    li_, small = (df[(df["method"] == m) & (df["seed"] == 0)].iloc[0].result for m in ("sensli", "small"))
    assert li_["curve"]["loss"][:4] == small["curve"]["loss"][:4], "same init and data until insertion"
    assert li_["total_flops"] > small["total_flops"]
    rows = {v["id"]: v for v in P.verdicts(frames, "smoke")}
    assert rows["cnn_vs_small"]["verdict"] == rows["cnn_cost_vs_big"]["verdict"] == "inconclusive"
    assert rows["fnn_vs_small"]["verdict"] == "not run"
    assert set(analysis.cnn_table(analysis.runs_frame(frames))["position"]) <= {0, 1, 2}


def _fake(acc_li, acc_small, li_evals, big_evals):
    """A runs frame of the cnn study: per seed SensLI, small and big with given final accuracies / evaluations."""
    rows = []
    for seed, (a, b) in enumerate(zip(acc_li, acc_small)):
        for method, acc, evals in (("sensli", a, li_evals), ("small", b, []), ("large", 0.5, big_evals)):
            rows.append(dict(study="cnn", method=method, label=method, arch="vgg", widths_start="[4]", seed=seed,
                             status="ok", test_err=1 - acc, total_flops=evals[-1]["flops"] if evals else 1,
                             result=dict(evals=evals, total_flops=evals[-1]["flops"] if evals else 1)))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("acc_li, acc_small, profile, expected", [
    ([0.5, 0.5, 0.4], [0.45, 0.5, 0.45], "cpu", "reproduced"),  # 2/3, the tie counts for SensLI (claim: >=)
    ([0.4, 0.4, 0.5], [0.45, 0.45, 0.45], "cpu", "not reproduced"),
    ([0.5, 0.5, 0.4, 0.4, 0.5], [0.45] * 5, "gpu", "inconclusive"),  # 3/5: between 1/2 and 2/3
    ([0.5, 0.5], [0.4, 0.4], "cpu", "inconclusive"),  # fewer than 3 seeds
    ([0.5, 0.5, 0.5], [0.4, 0.4, 0.4], "smoke", "inconclusive"),
])
def test_cnn_accuracy_verdict(acc_li, acc_small, profile, expected):
    from archlab.papers.layer_insertion.claims import RULES, rule_outcome

    ev = [dict(flops=0, test_acc=0.1)]
    df = _fake(acc_li, acc_small, ev, ev)
    assert rule_outcome(RULES["cnn_vs_small"], df, profile)[1] == expected


def test_cnn_cost_verdict():
    from archlab.papers.layer_insertion.analysis import cost_table
    from archlab.papers.layer_insertion.claims import RULES, rule_outcome

    li_ev = [dict(flops=f, test_acc=a) for f, a in ((0, 0.1), (10, 0.5), (20, 0.6))]
    big_ev = [dict(flops=f, test_acc=a) for f, a in ((0, 0.1), (15, 0.55), (30, 0.7))]
    ct = cost_table(_fake([0.6] * 3, [0.5] * 3, li_ev, big_ev), "cnn", metric="acc")
    assert ct["target_acc"].tolist() == [0.6] * 3 and ct["ratio"].tolist() == pytest.approx([20 / 30] * 3)
    assert rule_outcome(RULES["cnn_cost_vs_big"], _fake([0.6] * 3, [0.5] * 3, li_ev, big_ev), "cpu")[1] == "reproduced"
    # the big net gets to SensLI's best level first: SensLI is the more expensive one
    big_fast = [dict(flops=f, test_acc=a) for f, a in ((0, 0.1), (5, 0.65), (30, 0.7))]
    assert rule_outcome(RULES["cnn_cost_vs_big"], _fake([0.6] * 3, [0.5] * 3, li_ev, big_fast), "cpu")[1] == "not reproduced"
