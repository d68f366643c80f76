"""Themes inside each emotion: planted sub-styles recovered, ids stable across updates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import adjusted_rand_score

from models.exceptions import FeatureParameterError
from models.themes import ThemeConfig, ThemeModel, ThemeModelError, match_topics
from streams.cli import cli


@pytest.fixture(scope="module")
def fitted(theme_music):
    base, base_m, _, _ = theme_music
    return ThemeModel.fit(base_m, [c.emotion for c in base], ThemeConfig(update_every=5))


def _themes(model, clips, matrices) -> np.ndarray:
    return np.array(
        [model.assign(c.emotion, m).theme_id for c, m in zip(clips, matrices, strict=True)]
    )


def test_themes_recover_the_planted_substyles(fitted, theme_music) -> None:
    base, base_m, _, _ = theme_music
    themes = _themes(fitted, base, base_m)
    per_emotion = []
    for emotion in ("sad", "happy", "angry", "calm"):
        idx = [i for i, c in enumerate(base) if c.emotion == emotion]
        per_emotion.append(
            adjusted_rand_score([base[i].extra["substyle"] for i in idx], themes[idx])
        )
    pooled = adjusted_rand_score(
        [f"{c.emotion}/{c.extra['substyle']}" for c in base],
        [f"{c.emotion}/{t}" for c, t in zip(base, themes, strict=True)],
    )
    assert np.mean(per_emotion) >= 0.6 and pooled >= 0.6, (per_emotion, pooled)
    assert min(per_emotion) > 0.3, per_emotion
    # K is capped by the segments available: 24 tracks x 8 segments / 12 per codeword.
    assert {t.n_codewords for t in fitted.by_emotion.values()} == {16}


def test_assignment_is_a_distribution_over_stable_ids(fitted, theme_music) -> None:
    base, base_m, _, _ = theme_music
    assignment = fitted.assign(base[0].emotion, base_m[0])
    assert set(assignment.distribution) == set(range(5))
    assert abs(sum(assignment.distribution.values()) - 1.0) < 1e-4
    assert assignment.theme_id == max(assignment.distribution, key=assignment.distribution.get)
    with pytest.raises(FeatureParameterError):
        fitted.assign("sad", np.zeros((3, 28)))
    with pytest.raises(ThemeModelError, match="no 'joyful' class"):
        fitted.assign("joyful", base_m[0])


def test_online_update_keeps_old_tracks_theme_ids(theme_music) -> None:
    base, base_m, new, new_m = theme_music
    model = ThemeModel.fit(base_m, [c.emotion for c in base], ThemeConfig(update_every=5))
    before = _themes(model, base, base_m)
    for clip, matrix in zip(new, new_m, strict=True):
        model.add(clip.emotion, matrix)  # 9 new tracks per class: one online update each
    assert all(t.updates == 1 and t.refits == 0 for t in model.by_emotion.values())
    after = _themes(model, base, base_m)
    assert np.mean(before == after) >= 0.90


def test_refit_carries_ids_over_and_gives_unmatched_topics_new_ids(theme_music) -> None:
    base, base_m, _, _ = theme_music
    calm = [m for c, m in zip(base, base_m, strict=True) if c.emotion == "calm"]
    model = ThemeModel.fit(calm, ["calm"] * len(calm), ThemeConfig())
    themes = model.by_emotion["calm"]
    before = np.array([themes.assign(m).theme_id for m in calm])
    quality = themes.refit()
    after = np.array([themes.assign(m).theme_id for m in calm])
    assert quality > 0.5 and np.mean(before == after) >= 0.75
    assert len(set(themes.topic_ids)) == 5 and themes.refits == 1
    # Topics with nothing in common never inherit an id.
    old = np.eye(3)[[0, 0, 1, 1, 2, 2]]  # six tracks, two per old topic (ids 10, 11, 12)
    ids, next_id, quality = match_topics(old, np.eye(3)[[1, 1, 0, 0, 2, 2]], [10, 11, 12], 13, 0.3)
    assert ids == [11, 10, 12] and next_id == 13 and quality == pytest.approx(1.0)
    # Two old topics merged into one new topic; the other new topic is tracks no old topic had.
    old2 = np.eye(2)[[0, 0, 1, 1]]
    old2 = np.vstack([old2, np.zeros((2, 2))])
    ids, next_id, _ = match_topics(old2, np.eye(2)[[0, 0, 0, 0, 1, 1]], [10, 11], 13, 0.3)
    assert ids[0] in (10, 11) and ids[1] == 13 and next_id == 14


def test_save_load_gives_the_same_themes(fitted, theme_music, tmp_path) -> None:
    base, base_m, _, _ = theme_music
    fitted.save(tmp_path / "m")
    loaded = ThemeModel.load(tmp_path / "m")
    assert np.array_equal(_themes(fitted, base, base_m), _themes(loaded, base, base_m))


def test_evaluate_themes_cli_writes_the_report(theme_music, tmp_path) -> None:
    base, *_ = theme_music
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "themes",
            "--data",
            str(base[0].path.parent),
            "--truth-col",
            "substyle",
            "--out",
            str(out),
        ],
        env={"MOODSTREAM_HOME": str(tmp_path / "home")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    calm = report["classes"]["calm"]
    assert calm["tracks"] == 24 and sum(calm["theme_sizes"].values()) == 24
    assert calm["coherence_u_mass"] < 0 and calm["perplexity"] > 1 and 0 <= calm["stability"] <= 1
    assert "ari" in calm and (out / "theme_sizes.png").stat().st_size > 1000
