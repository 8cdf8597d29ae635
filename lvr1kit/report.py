"""The pipeline report (``report.html``) and the tidy results table the ablations notebook summarises.

Contents:
    - ``build_report``: one self-contained HTML page for a pipeline run dir: per stage its status, wall time,
      ``summary.json`` numbers, a figure or two built by :mod:`lvr1kit.plots` from the stage's files
      (``metrics.jsonl`` curves, the eval stage's per-category bars), a link to the executed notebook, and what is
      needed to reproduce it (resolved ``config.yaml``, ``meta.json`` versions and git commit, the pipeline file).
      plotly.js is embedded once, inline, so the page opens offline.
    - ``collect_results``: every eval stage's tidy table (``table.csv``) of a pipeline run dir, with a ``stage``
      column; a stage with only a ``summary.json`` contributes its overall numbers without intervals.
    - ``AblationsConfig`` / ``ablation_table``: conditions (study, eval stage dirs, model) -> one row each with the
      value and a 95% interval: the eval stage's bootstrap CI for one run, the t-interval over seeds for several;
      ``summarise_ablations`` (table + summary keys of ``notebooks/06_ablations.ipynb``), ``ablation_figure``,
      ``read_sweep``.

Everything here only reads run folders; a missing file leaves its section out rather than failing the page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import Field

from lvr1kit import plots, runs
from lvr1kit.config import StrictModel

__all__ = [
    "CURVE_KEYS",
    "AblationCondition",
    "AblationsConfig",
    "ablation_figure",
    "ablation_table",
    "build_report",
    "collect_results",
    "read_sweep",
    "save_pipeline_copy",
    "stage_entries",
    "summarise_ablations",
]

log = logging.getLogger(__name__)

CURVE_KEYS = (
    "loss/sft",
    "train/lr",
    "reward/total",
    "reward/accuracy",
    "loss/kl",
    "rollout/response_len",
    "demo/frames",
)
"""Metric keys drawn as curves when a stage logged them (at most four per stage, in this order)."""


# ----------------------------------------------------------------------------------------------- results tables


def _read_table(stage_dir: Path) -> pd.DataFrame | None:
    for name, reader in (("table.parquet", pd.read_parquet), ("table.csv", pd.read_csv)):
        path = stage_dir / name
        if path.exists():
            try:
                return reader(path)
            except Exception as err:  # an unreadable table is reported and skipped, not fatal
                log.warning("cannot read %s (%s); skipping it", path, err)
    return None


def _summary_rows(stage_dir: Path) -> list[dict[str, Any]]:
    summary = runs.read_summary(stage_dir)
    rows = []
    for metric in ("accuracy_lenient", "accuracy_strict", "format_rate"):
        for model, value in (summary.get(metric) or {}).items() if isinstance(summary.get(metric), dict) else []:
            rows.append({"model": model, "group_type": "overall", "group": "all", "metric": metric, "value": value})
    return rows


def collect_results(run_dir: str | Path) -> pd.DataFrame:
    """The tidy eval tables of every stage under a pipeline run dir, stacked, with a ``stage`` column.

    Columns: ``stage``, ``model``, ``group_type``, ``group``, ``metric``, ``n``, ``value``, ``ci_low``, ``ci_high``
    (NaN where a stage left only its ``summary.json``). Stages without eval results are left out.
    """
    root = Path(run_dir)
    frames = []
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir() and (p / "summary.json").exists()):
        table = _read_table(stage_dir)
        if table is None:
            rows = _summary_rows(stage_dir)
            if not rows:
                continue
            table = pd.DataFrame(rows)
        frames.append(table.assign(stage=stage_dir.name))
    columns = ["stage", "model", "group_type", "group", "metric", "n", "value", "ci_low", "ci_high"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    for column in columns:
        if column not in out:
            out[column] = math.nan
    return out[columns + [c for c in out.columns if c not in columns]]


class AblationCondition(StrictModel):
    """One condition of an ablation study: where its eval results are and which model row to read."""

    study: str
    """The question this condition answers, e.g. ``recipe``, ``kl``, ``group size``; rows are grouped by it."""
    eval_dirs: list[str] = Field(min_length=1)
    """Eval stage run dirs holding this condition's results, one per seed (``{eval_s0}``, ``{eval_s1}``, ...)."""
    model: str | None = None
    """The ``model`` row of the eval table (a key of the eval stage's ``checkpoints``); ``None`` = the only one."""


class AblationsConfig(StrictModel):
    """Settings of ``notebooks/06_ablations.ipynb``: which eval results form which ablation condition."""

    conditions: dict[str, AblationCondition] = Field(default_factory=dict)
    """Condition name -> study, eval dirs and model; rows of the summary table, in this order."""
    metric: str = "accuracy_lenient"
    """Eval metric compared across conditions (``accuracy_lenient``, ``accuracy_strict``, ``format_rate``)."""
    group_type: str = "overall"
    """``overall`` for one number per condition; ``category`` / ``duration`` for one column per group."""
    sweep_dir: str | None = None
    """An eval stage run dir whose ``sweep.csv`` (test-time frame budget x sampling scheme) is shown too."""


def _condition_rows(name: str, cond: AblationCondition, metric: str, group_type: str) -> list[dict[str, Any]]:
    from lvr1kit.eval.stats import seed_spread

    per_seed = []
    for eval_dir in cond.eval_dirs:
        table = _read_table(Path(eval_dir))
        if table is None:
            table = pd.DataFrame(_summary_rows(Path(eval_dir)), columns=["model", "group_type", "group", "metric"])
        part = table[(table["metric"] == metric) & (table["group_type"] == group_type)]
        part = part[~part["model"].astype(str).str.startswith("baseline:")]
        models = list(dict.fromkeys(part["model"].astype(str)))
        model = cond.model or (models[0] if len(models) == 1 else None)
        if model is None or model not in models:
            raise ValueError(
                f"condition {name!r}: {eval_dir} has models {models}; set conditions.{name}.model to one of them"
            )
        per_seed.append(part[part["model"].astype(str) == model])
    rows = []
    for group in list(dict.fromkeys(per_seed[0]["group"].astype(str))):
        picked = [
            p[p["group"].astype(str) == group].iloc[0] for p in per_seed if (p["group"].astype(str) == group).any()
        ]
        values = [float(r["value"]) for r in picked]
        if len(picked) == 1:
            row = picked[0]
            low, high = float(row.get("ci_low", math.nan)), float(row.get("ci_high", math.nan))
            interval = "bootstrap over questions"
        else:
            spread = seed_spread(values)
            low, high, interval = spread.ci_low, spread.ci_high, f"t over {len(values)} seeds"
        rows.append(
            {
                "study": cond.study,
                "condition": name,
                "group": group,
                "seeds": len(picked),
                "n": picked[0].get("n", math.nan),
                "value": sum(values) / len(values),
                "ci_low": low,
                "ci_high": high,
                "interval": interval,
            }
        )
    return rows


def ablation_table(cfg: AblationsConfig) -> pd.DataFrame:
    """One row per (condition, group): study, condition, seeds, value and its 95% interval.

    With one eval dir the interval is the eval stage's bootstrap CI over questions; with several (seeds) it is the
    Student-t interval of the mean over seeds (:func:`lvr1kit.eval.stats.seed_spread`).

    Raises:
        ValueError: when a condition's eval table holds several models and ``model`` does not name one of them.
    """
    rows = [r for name, c in cfg.conditions.items() for r in _condition_rows(name, c, cfg.metric, cfg.group_type)]
    columns = ["study", "condition", "group", "seeds", "n", "value", "ci_low", "ci_high", "interval"]
    return pd.DataFrame(rows, columns=columns)


def ablation_figure(table: pd.DataFrame, metric: str = "accuracy_lenient", title: str = "") -> Any:
    """Bars of an :func:`ablation_table` (``overall`` rows): one colour per study, one bar per condition, with CIs."""
    part = table[table["group"] == "all"] if "all" in set(table["group"]) else table
    tidy = part.rename(columns={"study": "model", "condition": "group"}).assign(group_type="overall", metric=metric)
    return plots.category_bars(tidy, metric=metric, group_type="overall", title=title)


def read_sweep(eval_dir: str | Path | None) -> pd.DataFrame | None:
    """An eval stage's frame-budget x sampling-scheme table (``sweep.parquet`` / ``sweep.csv``), if it has one."""
    if eval_dir is None:
        return None
    for name, reader in (("sweep.parquet", pd.read_parquet), ("sweep.csv", pd.read_csv)):
        path = Path(eval_dir) / name
        if path.exists():
            return reader(path)
    return None


def summarise_ablations(cfg: AblationsConfig, run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ablation table, written to ``<run_dir>/ablations.csv``, and the ``summary.json`` keys of the notebook.

    Returns:
        ``(table, summary)``; ``summary`` holds ``metric``, ``conditions``, ``studies``, ``best_per_study`` (the
        condition with the highest value per study) and ``values`` (condition -> overall value).
    """
    table = ablation_table(cfg)
    table.to_csv(Path(run_dir) / "ablations.csv", index=False)
    overall = table[table["group"] == "all"] if "all" in set(table["group"]) else table
    best = overall.loc[overall.groupby("study", sort=False)["value"].idxmax()] if not overall.empty else overall
    summary = {
        "metric": cfg.metric,
        "conditions": list(cfg.conditions),
        "studies": list(dict.fromkeys(c.study for c in cfg.conditions.values())),
        "best_per_study": dict(zip(best["study"], best["condition"], strict=True)),
        "values": dict(zip(overall["condition"], overall["value"].round(4), strict=True)),
    }
    return table, summary


# ---------------------------------------------------------------------------------------------------- the report


def stage_entries(run_dir: str | Path) -> list[dict[str, Any]]:
    """The stages of a pipeline run dir: its ``summary.json`` stage list, or every stage folder when missing."""
    root = Path(run_dir)
    path = root / "summary.json"
    if path.exists():
        stages = json.loads(path.read_text()).get("stages", [])
        if stages:
            return stages
    found = []
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir() and (p / "summary.json").exists()):
        found.append({**runs.read_summary(stage_dir), "name": stage_dir.name, "run_dir": str(stage_dir)})
    return found


def _wall_s(entry: dict[str, Any], stage_dir: Path) -> float | None:
    for key in ("seconds", "pipeline_seconds"):
        if isinstance(entry.get(key), int | float):
            return float(entry[key])
    try:
        started = dt.datetime.fromisoformat(_meta(stage_dir)["started"])
        return (dt.datetime.fromisoformat(runs.read_summary(stage_dir)["finished"]) - started).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def _meta(stage_dir: Path) -> dict[str, Any]:
    path = stage_dir / "meta.json"
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 160 else text[:157] + "..."
    return str(value)


_HIDDEN_KEYS = {"name", "stage", "status", "run_dir", "notebook", "seconds", "pipeline_seconds", "pipeline_fingerprint"}


def _numbers_table(summary: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in summary.items()
        if k not in _HIDDEN_KEYS
    )
    return f'<table class="kv">{rows}</table>' if rows else "<p><em>no numbers in summary.json</em></p>"


def _figures(stage_dir: Path) -> list[Any]:
    figures = []
    try:
        records = runs.read_metrics(stage_dir)
    except runs.RunError as err:
        log.warning("%s", err)
        records = []
    keys = [k for k in CURVE_KEYS if any(isinstance(r.get(k), int | float) for r in records)][:4]
    if keys and len({r.get("step") for r in records}) > 1:
        figures.append(plots.metric_curves(records, keys, title=f"{stage_dir.name}: metrics.jsonl"))
    table = _read_table(stage_dir)
    if table is not None and {"group_type", "metric", "model", "value", "ci_low", "ci_high", "n"} <= set(table):
        try:
            from lvr1kit.eval import CATEGORY_NAMES

            labels: dict[str, str] | None = dict(CATEGORY_NAMES)
        except ImportError:
            labels = None
        for group_type, title in (("overall", "overall"), ("category", "per category")):
            if ((table["group_type"] == group_type) & (table["metric"] == "accuracy_lenient")).any():
                figures.append(
                    plots.category_bars(
                        table,
                        group_type=group_type,
                        labels=labels,
                        title=f"{stage_dir.name}: lenient accuracy, {title}",
                    )
                )
    return figures


def _details(title: str, text: str) -> str:
    return f"<details><summary>{html.escape(title)}</summary><pre>{html.escape(text)}</pre></details>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
h1{margin-bottom:0.2em} h2{border-bottom:1px solid #ccc;padding-bottom:0.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:0.6em 0} th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;
vertical-align:top;font-size:0.9em} table.kv th{background:#f6f6f6;font-weight:500;white-space:nowrap}
.done,.skipped{color:#1a7f37;font-weight:600} .failed,.running{color:#c62828;font-weight:600}
pre{background:#f6f8fa;padding:0.8em;overflow:auto;max-height:400px;font-size:0.8em}
summary{cursor:pointer;color:#0550ae} .muted{color:#666}
"""


def build_report(run_dir: str | Path, pipeline_file: str | Path | None = None) -> Path:
    """Write ``<run_dir>/report.html`` for a pipeline run dir and return its path.

    Args:
        run_dir: The pipeline's run dir (stage folders, ``notebooks/``, ``summary.json``).
        pipeline_file: The pipeline YAML shown under "reproduce"; default ``<run_dir>/pipeline.yaml`` (the runner's
            copy) when present.
    """
    root = Path(run_dir)
    entries = stage_entries(root)
    pipeline_path = Path(pipeline_file) if pipeline_file else root / "pipeline.yaml"
    plotly_included = False
    overview, sections = [], []
    for entry in entries:
        name = str(entry.get("name"))
        stage_dir = Path(entry.get("run_dir") or root / name)
        if not stage_dir.is_absolute() and not stage_dir.exists():
            stage_dir = root / name
        summary = {**entry, **runs.read_summary(stage_dir)} if stage_dir.exists() else dict(entry)
        status = str(entry.get("status") or summary.get("status", "missing"))
        wall = _wall_s(entry, stage_dir)
        wall_text = f"{wall:.1f} s" if wall is not None else "–"
        notebook = root / "notebooks" / f"{name}.ipynb"
        link = (
            f'<a href="notebooks/{html.escape(name)}.ipynb">notebooks/{html.escape(name)}.ipynb</a>'
            if notebook.exists()
            else '<span class="muted">no executed notebook</span>'
        )
        overview.append(
            f'<tr><td><a href="#stage-{html.escape(name)}">{html.escape(name)}</a></td>'
            f'<td class="{html.escape(status)}">{html.escape(status)}</td><td>{wall_text}</td><td>{link}</td></tr>'
        )
        parts = [
            f'<h2 id="stage-{html.escape(name)}">{html.escape(name)}</h2>',
            f'<p>status <span class="{html.escape(status)}">{html.escape(status)}</span> · wall time {wall_text}'
            f" · notebook {link} · run dir <code>{html.escape(str(stage_dir))}</code></p>",
        ]
        if status == "failed" and entry.get("error"):
            parts.append(f"<pre>{html.escape(str(entry['error']))}</pre>")
        parts.append(_numbers_table(summary))
        for fig in _figures(stage_dir) if stage_dir.exists() else []:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=not plotly_included))
            plotly_included = True
        meta = _meta(stage_dir)
        if meta:
            commit = meta.get("git_commit") or "unknown"
            versions = ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())
            parts.append(
                f'<p class="muted">config class {html.escape(str(meta.get("config_class")))} · git commit '
                f"<code>{html.escape(str(commit))}</code> · python {html.escape(str(meta.get('python')))} · "
                f"{html.escape(versions)} · host {html.escape(str(meta.get('host')))}</p>"
            )
        config = stage_dir / "config.yaml"
        if config.exists():
            parts.append(_details(f"resolved config ({config.name})", config.read_text()))
        sections.append("\n".join(parts))
    pipeline_text = pipeline_path.read_text() if pipeline_path.exists() else None
    title = f"Pipeline report: {root.name}"
    written = dt.datetime.now().isoformat(timespec="seconds")
    page = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">{html.escape(str(root.resolve()))} · written {written}'
        f' · <a href="summary.json">summary.json</a></p>',
        "<table><tr><th>stage</th><th>status</th><th>wall time</th><th>executed notebook</th></tr>",
        *overview,
        "</table>",
        *sections,
        "<h2>Reproduce</h2>",
        "<p>Rerun with <code>lvr1 pipeline run PIPELINE.yaml --run-dir NEW_DIR</code> at the git commit shown per"
        " stage; each stage's resolved config above fixes every setting.</p>",
        _details(f"pipeline file ({pipeline_path})", pipeline_text)
        if pipeline_text
        else '<p class="muted">pipeline file not found</p>',
        "</body></html>",
    ]
    out = root / "report.html"
    out.write_text("\n".join(page))
    log.info("report: %s", out)
    return out


def save_pipeline_copy(run_dir: str | Path, data: dict[str, Any]) -> Path:
    """Write the pipeline as run (``<run_dir>/pipeline.yaml``) so the report can quote it."""
    path = Path(run_dir) / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
