"""Where the tests find the repository, its sample archive, the golden files and the fixtures."""

from __future__ import annotations

from pathlib import Path

#: tests/
TESTS = Path(__file__).resolve().parents[1]
#: the repository root
ROOT = TESTS.parent
#: the synthetic sample archive (``SynthConfig.sample()``) committed to the repository
SAMPLE = ROOT / "data" / "sample"
#: real CloudTrail captures, present only in a checkout next to a ``shared/realdata`` folder
REALDATA = ROOT.parent / "shared" / "realdata"
GOLDEN = TESTS / "golden"
GOLDEN_QUERIES = GOLDEN / "queries"
GOLDEN_POLICIES = GOLDEN / "policy"
FIXTURES = TESTS / "fixtures"
IAM_FIXTURES = FIXTURES / "iam"
