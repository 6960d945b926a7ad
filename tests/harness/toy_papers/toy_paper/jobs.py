"""Every run as a benchmark / dry-run job."""
from archlab.data import dataset_info

from .grid import configs, make_config


def jobs(profile: str = "paper", **params) -> list[dict]:
    info = dataset_info("spirals")
    return [dict(model=c["model"], kwargs={**c["model_kwargs"], "num_classes": info["classes"],
                                           "input_shape": info["shape"]}, shape=info["shape"], dataset=c["dataset"],
                 batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"])
            for c in configs(make_config(profile=profile, **params))]
