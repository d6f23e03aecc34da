"""``python -m tests.chaos --n 100000 --guarantee exactly_once --scenarios all``.

Prints the table, writes bench/results/chaos-<guarantee>.json and exits 1 when a target is
missed (any loss or unexpected record; duplicates too in exactly-once mode)."""

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos import corpus
from tests.chaos.harness import GUARANTEES, SCENARIOS, Harness, Result, table

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


async def main_async(args: argparse.Namespace) -> list[Result]:
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    started = time.process_time()
    data = corpus.build(args.n, seed=args.seed)
    print(
        f"corpus: {args.n} valid, {data.copies} copies, {len(data.poison)} poison, "
        f"{len(data.records)} records ({time.process_time() - started:.1f} s CPU)",
        flush=True,
    )
    results: list[Result] = []
    harness = Harness(
        data,
        guarantee=args.guarantee,
        seed=args.seed,
        partitions=args.partitions,
        outage_s=args.outage,
        deadline_s=args.deadline,
        keep_topics=args.keep,
    )
    async with harness:
        print(f"broker {harness.bootstrap}, logs under {harness.workdir}", flush=True)
        for name in names:
            result = await harness.run(name)
            results.append(result)
            print("\n".join(table([result]).splitlines()[2:]), flush=True)
            write(args, results)  # after each scenario: a long run that dies keeps its rows
    if not args.keep:
        harness.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="unique valid raw articles")
    parser.add_argument("--guarantee", choices=GUARANTEES, default="exactly_once")
    parser.add_argument("--scenarios", default="all", help=f"all, or some of {SCENARIOS}")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--outage", type=float, default=120.0, help="broker_outage seconds")
    parser.add_argument("--deadline", type=float, default=1800.0, help="per scenario, seconds")
    parser.add_argument("--keep", action="store_true", help="keep topics, broker dir and logs")
    parser.add_argument("--out", type=Path, default=None, help="JSON results path")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print()
    print(table(results))
    out = write(args, results)
    print(f"\nwritten {out}")
    missed = {r.scenario: r.missed() for r in results if r.missed()}
    if missed:
        print(f"TARGETS MISSED: {missed}", file=sys.stderr)
        sys.exit(1)


def write(args: argparse.Namespace, results: list[Result]) -> Path:
    out: Path = args.out or RESULTS / f"chaos-{args.guarantee}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "n": args.n,
                "guarantee": args.guarantee,
                "seed": args.seed,
                "measured_at": datetime.now(UTC).isoformat(),
                "scenarios": [r.as_json() for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    return out


if __name__ == "__main__":
    main()
