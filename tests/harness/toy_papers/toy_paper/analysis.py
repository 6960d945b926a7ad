"""Tables from the runs."""


def summary(runs):
    return runs.groupby("model")[["train_loss", "test_acc"]].agg(["mean", "std", "size"])
