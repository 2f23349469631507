"""Askers, reviewers and an ingest at once, in separate processes: the short run of benchmarks/review_concurrency.py."""
from __future__ import annotations

import importlib

import pytest

from tests.records.conftest import POSTGRES

# benchmarks/ is a namespace package: imported by name, so the spawned workers can unpickle its functions.
bench = importlib.import_module("benchmarks.review_concurrency")


@pytest.mark.slow  # 45-90 s per backend on 2 cores: 7 processes start, 4 of them load the packaged embedder
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_askers_reviewers_and_ingest_lose_nothing_share_no_claim_and_keep_the_chain(backend, tmp_path):
    if backend == "postgresql" and not POSTGRES:
        pytest.skip("PostgreSQL variant: set REGCITE_TEST_POSTGRES to an admin URL (scripts/test.sh starts the "
                    "packaged cluster and sets it)")
    run = bench.run_backend(backend, seconds=15, askers=3, reviewers=2, postgres_url=POSTGRES, work_dir=tmp_path,
                            log=lambda _line: None)
    assert run["answers"] > 0 and run["decisions"] > 0 and run["ingest_commits"] > 0, run
    assert run["records_by_kind"]["answer"] == run["answers"] and run["records_by_kind"]["decision"] == run["decisions"]
    assert {k: v for k, v in run["problems"].items() if v} == {}, (run["examples"], run["worker_failures"],
                                                                   run["worker_errors"])
    assert run["chain_holds"] and run["ok"]


def test_overlapping_claims_on_one_answer_are_found_and_consecutive_ones_are_not():
    Held = bench.Held
    consecutive = [Held("a1", "rex", 1.0, 2.0, "released"), Held("a1", "rosa", 2.0, 3.0, "decided"),
                   Held("a2", "rex", 1.5, 2.5, "decided")]
    assert bench.overlapping_claims(consecutive) == []
    overlapping = consecutive + [Held("a2", "rosa", 2.4, 2.6, "decided")]
    found = bench.overlapping_claims(overlapping)
    assert len(found) == 1 and found[0].startswith("a2: rex held it")
