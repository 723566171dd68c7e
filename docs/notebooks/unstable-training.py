# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Companion notebook: Unstable GAN training
#
# The notebook of the point [`unstable-training`](../../points/unstable-training/) (tweets 5).
# It loads the published results, redraws a chart offline, and runs the smoke
# profile live, so you can change the code and see what moves. Download it as
# `.ipynb` from the link at the top of this page, or run the script from a clone.

# %%
import altair as alt
import pandas as pd

from essay_code.tooling.registry import get_points
from essay_code.tooling.results import load_records, load_summary
from essay_code.tooling.runner import RunContext, execute, resolve_config

alt.renderers.enable("svg")  # rendered by vl-convert: no network, no browser
(point,) = get_points(["unstable-training"])

# %% [markdown]
# ## The published results
# The verdict and every estimate, as the default profile produced them.

# %%
summary = load_summary(point.slug)
print(summary["verdict"]["status"], "-", summary["verdict"]["reason"])
pd.DataFrame(summary["estimates"]).T[["value", "low", "high", "unit"]]

# %%
records = load_records(point.slug)
records.head()

# %% [markdown]
# ## A chart, redrawn from the records

# %%
charts = point.module.charts(records)
charts[sorted(charts)[0]]

# %% [markdown]
# ## The smoke profile, live
# The same code at a tiny size (seconds). Its numbers are noisy by design; the
# published verdict comes from the default profile.

# %%
config = resolve_config(point, "smoke")
smoke_records, estimates, verdict, _ = execute(
    point, config, RunContext(show_progress=False)
)
print(verdict.status, "-", verdict.reason)
pd.DataFrame({name: vars(est) for name, est in estimates.items()}).T[
    ["value", "low", "high"]
]
