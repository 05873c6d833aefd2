"""Scenarios produce the selection they document; world and sample seeds are separate."""
import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.simulation import SimulationConfig, feature_spec, simulate_frame
from mtl_keras.simulation.scenarios import SCENARIOS, get_scenario
from mtl_keras.simulation.world import FunnelWorld

N = 120_000


@pytest.fixture(scope="module")
def frames():
    return {name: simulate_frame(s.config(num_requests=N, seed=1, world_seed=0)) for name, s in SCENARIOS.items()}


def z_score(sample, reference_mean):
    sample = np.asarray(sample, float)
    return (sample.mean() - reference_mean) / (sample.std(ddof=1) / np.sqrt(sample.size))


def test_world_seed_fixes_the_world_and_seed_draws_the_rows():
    a = FunnelWorld(SimulationConfig(seed=1, world_seed=5))
    b = FunnelWorld(SimulationConfig(seed=2, world_seed=5))
    c = FunnelWorld(SimulationConfig(seed=1, world_seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a.tables, b.tables)) and a.a_cvr == b.a_cvr
    assert not np.array_equal(a.tables[0], c.tables[0])
    # world_seed None: one seed for both, as before the split.
    old, explicit = FunnelWorld(SimulationConfig(seed=3)), FunnelWorld(SimulationConfig(seed=9, world_seed=3))
    assert all(np.array_equal(x, y) for x, y in zip(old.tables, explicit.tables))
    rows_1 = simulate_frame(SimulationConfig(num_requests=2000, seed=1, world_seed=5))
    rows_2 = simulate_frame(SimulationConfig(num_requests=2000, seed=2, world_seed=5))
    assert not np.array_equal(rows_1["user_id"], rows_2["user_id"])
    assert rows_1.equals(simulate_frame(SimulationConfig(num_requests=2000, seed=1, world_seed=5)))


def test_observables_selection_is_ignorable_given_the_features(frames):
    frame = frames["observables"]
    clicked = frame[names.CLICK].to_numpy() == 1
    # No latent: the intent column is independent noise in every space, and clicked rows convert
    # at exactly the rate their features say.
    assert abs(z_score(frame[names.TRUE_INTENT][clicked], frame[names.TRUE_INTENT].mean())) < 4
    residual = (frame[names.POTENTIAL_CONVERSION] - frame[names.TRUE_P_CVR])[clicked]
    assert abs(z_score(residual, 0.0)) < 4
    # ... while the selection on features is strong: clicked rows' true CVR is far above the requests'.
    assert frame[names.TRUE_P_CVR][clicked].mean() > 1.3 * frame[names.TRUE_P_CVR].mean()


def test_confounded_selection_moves_the_latent_intent(frames):
    frame = frames["confounded"]
    won, clicked = frame[names.WON].to_numpy() == 1, frame[names.CLICK].to_numpy() == 1
    intent = frame[names.TRUE_INTENT]
    assert z_score(intent[clicked], intent.mean()) > 10  # clicks select high intent
    assert z_score(intent[won], intent.mean()) < -10  # competitors outbid us on high intent
    residual = (frame[names.POTENTIAL_CONVERSION] - frame[names.TRUE_P_CVR])[clicked]
    assert z_score(residual, 0.0) > 10  # clicked rows convert above what their features say
    # true_p_cvr is the feature-level probability E_u[σ(·)]: over all requests it matches the draws.
    assert abs(z_score(frame[names.POTENTIAL_CONVERSION], frame[names.TRUE_P_CVR].mean())) < 4
    assert frame[names.TRUE_P_CVR].mean() == pytest.approx(0.15, abs=0.005)


def test_misspecified_hides_the_ids_but_not_their_effects(frames):
    hashed, full = frames["misspecified"], frames["observables"]
    assert hashed["user_id"].max() < 200 and hashed["ad_id"].max() < 200 and full["user_id"].max() >= 200
    assert np.array_equal(hashed["user_id"], full["user_id"] % 200)
    assert np.array_equal(hashed[names.TRUE_P_CVR], full[names.TRUE_P_CVR])  # outcomes follow the full ids
    config = get_scenario("misspecified").config(num_requests=10)
    vocabularies = {f.name: f.vocabulary_size for f in feature_spec(config).categorical}
    assert vocabularies["user_id"] == 200 and vocabularies["ad_id"] == 200 and vocabularies["campaign_id"] == 100


def test_overlap_differs_as_documented(frames):
    below = {name: float(np.mean(f[names.TRUE_P_WIN] < 0.05)) for name, f in frames.items()}
    assert below["observables"] < 0.08 and below["misspecified"] < 0.08
    assert below["low_overlap"] > 0.18


def test_unknown_scenario_and_bad_fields_are_named():
    with pytest.raises(ValueError, match="scenario"):
        get_scenario("random")
    with pytest.raises(ValueError, match="intent_strength"):
        SimulationConfig(intent_strength=-1)
    with pytest.raises(ValueError, match="world_seed"):
        SimulationConfig(world_seed=-2)
    with pytest.raises(ValueError, match="observed_buckets"):
        SimulationConfig(observed_buckets=0)
