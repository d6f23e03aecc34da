"""The table and the PNG chart of a bench/run.py result (throughput, CPU, latency).

python -m bench.chart [bench/results/run.json] [--png bench/results/run.png]
"""

import argparse
import json
from pathlib import Path
from typing import Any

from services.runtime.local import REPO_ROOT


def rows(res: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(group, label, measurement) for every throughput figure, in the order they were run."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for name, m in res.get("ceiling", {}).items():
        out.append(("ceiling", f"pass-through ({name})", m))
    stages = res.get("stages", {})
    for name in ("ingest", "enrich"):
        if name in stages:
            out.append(("stage", name, stages[name]))
    for n, m in stages.get("notify", {}).items():
        out.append(("stage", f"notify {int(n):,} subs", m))
    for name, m in res.get("peers", {}).items():
        if isinstance(m, dict) and "articles_per_s" in m:
            out.append(("peer", f"tag: {name}", m))
    for name, m in res.get("pipeline", {}).items():
        out.append(("pipeline", f"pipeline {name}", m))
    return out


def _cpu(m: dict[str, Any]) -> float:
    cpu = m.get("cpu_s_per_1k_articles", float("nan"))
    return float(cpu["total"]) if isinstance(cpu, dict) else float(cpu)


def _rss(m: dict[str, Any]) -> float:
    rss = m.get("peak_rss_mb", {})
    return max(rss.values()) if rss else float("nan")


def table(res: dict[str, Any]) -> str:
    lines = [
        f"{'':<30} {'articles/s':>10} {'records/s':>10} {'ratio':>6} {'CPU s/1k':>9} "
        f"{'RSS MiB':>8} {'load':>5}"
    ]
    for _, label, m in rows(res):
        rec = m.get("records_per_s", m.get("raw_events_per_s", float("nan")))
        ratio = m.get("ratio_to_ceiling", 1.0 if label.startswith("pass-through") else float("nan"))
        load = m.get("load", [{}])[0].get("load_1m", float("nan"))
        lines.append(
            f"{label:<30} {m['articles_per_s']:>10.0f} {rec:>10.0f} {ratio:>6.2f} "
            f"{_cpu(m):>9.2f} {_rss(m):>8.0f} {load:>5.2f}"
        )
    paced = res.get("pipeline", {}).get("x1", {}).get("paced")
    if paced:
        lat = paced["latency_ms_all_alerts"]
        lines.append(
            f"raw → alert at {paced['target_articles_per_s']:.0f} articles/s (half of max): "
            f"p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms "
            f"over {lat['n']} alerts"
        )
    for name, t in res.get("targets", {}).items():
        figure = t.get("measured", t.get("measured_ratio"))
        lines.append(f"target {name}: {figure:.2f} → {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def chart(res: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(res)
    colours = {"ceiling": "#888888", "stage": "#1f77b4", "peer": "#ff7f0e", "pipeline": "#2ca02c"}
    fig, axes = plt.subplots(1, 3, figsize=(17, 6.5), gridspec_kw={"width_ratios": [3, 3, 2]})
    labels = [label for _, label, _ in data]
    y = list(range(len(data)))[::-1]
    ax = axes[0]
    ax.barh(y, [m["articles_per_s"] for _, _, m in data], color=[colours[g] for g, _, _ in data])
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("articles/s (log)")
    ax.set_title("throughput")
    for yy, (_, _, m) in zip(y, data, strict=True):
        ax.text(m["articles_per_s"], yy, f" {m['articles_per_s']:,.0f}", va="center", fontsize=7)
    ax = axes[1]
    ax.barh(y, [_cpu(m) for _, _, m in data], color=[colours[g] for g, _, _ in data])
    ax.set_yticks(y, [""] * len(y))
    ax.set_xlabel("CPU seconds per 1,000 articles")
    ax.set_title("CPU cost (all processes of the row)")
    for yy, (_, _, m) in zip(y, data, strict=True):
        ax.text(_cpu(m), yy, f" {_cpu(m):.2f}", va="center", fontsize=7)
    ax = axes[2]
    paced = res.get("pipeline", {}).get("x1", {}).get("paced")
    if paced:
        lat = paced["latency_ms_all_alerts"]
        names = ["p50", "p95", "p99"]
        ax.bar(names, [lat[n] for n in names], color="#2ca02c")
        ax.axhline(250, color="red", linestyle="--", linewidth=1, label="target p99 250 ms")
        ax.legend(fontsize=8)
        for i, n in enumerate(names):
            ax.text(i, lat[n], f"{lat[n]:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_title(f"raw → alert at {paced['target_articles_per_s']:.0f} articles/s (½ max)")
        ax.set_ylabel("ms")
    else:
        ax.set_axis_off()
    load = res.get("meta", {}).get("load_at_start", {}).get("load_1m", float("nan"))
    fig.suptitle(
        f"newswire bench/run.py on {res.get('meta', {}).get('cores')} cores "
        f"(1-min load at start {load:.2f}); grey ceiling, blue stages, orange peers, "
        "green pipeline",
        fontsize=10,
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", nargs="?", default=str(REPO_ROOT / "bench/results/run.json"))
    p.add_argument("--png", default=None)
    a = p.parse_args()
    res = json.loads(Path(a.result).read_text())
    print(table(res))
    chart(res, Path(a.png) if a.png else Path(a.result).with_suffix(".png"))


if __name__ == "__main__":
    main()
