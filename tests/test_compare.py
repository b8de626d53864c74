"""The one comparison (autograder.compare): exact checks, and hints that survive another machine's rounding."""

from __future__ import annotations

import numpy as np

from autograder.compare import Expectation, Variant, verdict_for

HINT = "the checkpoint aliases the parameters"


def _exact(expected, variant_value):
    return Expectation("demo.exact", expected, rtol=0.0, atol=0.0, hint="general", variants=(Variant(HINT, variant_value),))


def test_an_exact_check_rejects_the_last_bit():
    verdict = verdict_for(np.nextafter(0.5, 1.0), _exact(0.5, 0.7))
    assert not verdict.passed and verdict.hint == "general"


def test_a_variant_recorded_elsewhere_still_names_the_mistake():
    recorded = 0.04036639139043191  # the instructor's machine
    here = 0.040366391390431855  # the same mistake, another BLAS: differs in the last bits
    verdict = verdict_for({"difference": here}, _exact({"difference": 0.0}, {"difference": recorded}))
    assert not verdict.passed and verdict.hint == HINT


def test_a_float32_variant_matches_within_float32_rounding():
    verdict = verdict_for(0.02299630641937256, _exact(0.0, 0.022996336221694946))  # float32, 1.3e-6 apart
    assert verdict.hint == HINT


def test_a_value_far_from_every_variant_gets_the_general_hint():
    assert verdict_for(0.0401, _exact(0.0, 0.04036639139043191)).hint == "general"


def test_a_variant_indistinguishable_from_the_answer_names_no_mistake():
    expected = 1.0
    variant = 1.0 + 1e-9  # differs from the answer only by rounding at the variants' tolerance
    verdict = verdict_for(1.0 + 2e-9, _exact(expected, variant))
    assert not verdict.passed and verdict.hint == "general"


def test_a_toleranced_check_matches_variants_with_its_own_tolerance():
    # Clipping with and without eps differ by about 1e-7 relative: a toleranced check tells them apart.
    expected, without_eps = 0.5, 0.5 * (1 + 2e-7)
    check = Expectation("demo.tol", expected, rtol=1e-10, atol=1e-12, hint="general", variants=(Variant(HINT, without_eps),))
    assert verdict_for(without_eps, check).hint == HINT
    assert verdict_for(0.5 * (1 + 5e-7), check).hint == "general"
