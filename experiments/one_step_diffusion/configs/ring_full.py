"""The default ring run at its full budget: 6 000 generator steps (the default's
1 500 fit `make demo`'s 8 minutes on 2 CPU cores; this one takes about half an hour)."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), steps=6000, log_every=500)
