"""Plan expansion: items, stable ids, stage keys, seeds, prompt files, batches, slugs."""

from __future__ import annotations

import dataclasses

import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.naming import bounded_slug, slugify
from ltxmlx.config.plan import build_plan, expand_seeds, load_prompts, stage_keys
from ltxmlx.config.schema import ConditioningCfg, ImageCondCfg
from ltxmlx.config.validate import to_run_config
from ltxmlx.errors import ConfigError
from runner_fakes import FakeStage, fake_pipeline


@pytest.fixture(scope="module")
def cfg():
    return to_run_config(compose_config(["+job=smoke"]))


def with_(cfg, **kw):
    return dataclasses.replace(cfg, **kw)


def test_items_are_prompts_times_seeds_with_stable_ids(cfg):
    plan = build_plan(cfg, fake_pipeline(), 2)
    assert [(p.prompt_index, p.item.seed) for p in plan.items] == [(0, 10), (0, 11), (1, 10), (1, 11)]
    assert len({p.item.id for p in plan.items}) == 4
    # Reordering and extending the prompt list keeps every existing item's id and keys.
    more = with_(cfg, prompts=["A new first prompt"] + list(reversed(cfg.prompts)))
    again = {p.item.id: p.keys for p in build_plan(more, fake_pipeline(), 2).items}
    assert all(again[p.item.id] == p.keys for p in plan.items) and len(again) == 6


def test_stage_keys_chain_later_changes_keep_earlier_keys(cfg):
    item = build_plan(cfg, fake_pipeline(), 1).items[0].item
    a = stage_keys(fake_pipeline(stage2_setting=1.0), item)
    b = stage_keys(fake_pipeline(stage2_setting=0.5), item)
    assert a["text"] == b["text"] and a["stage1"] == b["stage1"]
    assert a["stage2"] != b["stage2"] and a["decode"] != b["decode"]  # decode depends on stage 2
    c = stage_keys([FakeStage("text", setting=2.0)] + fake_pipeline()[1:], item)
    assert all(c[k] != a[k] for k in a)  # an early change invalidates everything after it


def test_text_stage_key_is_shared_across_seeds(cfg):
    plan = build_plan(cfg, fake_pipeline(), 2)
    assert len({p.keys["text"] for p in plan.items}) == 2 and len({p.keys["stage1"] for p in plan.items}) == 4


def test_seeds_list_or_range(cfg):
    assert expand_seeds(with_(cfg, seeds=dataclasses.replace(cfg.seeds, values=[], start=5, count=3))) == [5, 6, 7]
    with pytest.raises(ConfigError, match="distinct"):
        expand_seeds(with_(cfg, seeds=dataclasses.replace(cfg.seeds, values=[1, 1])))
    with pytest.raises(ConfigError, match="count"):
        expand_seeds(with_(cfg, seeds=dataclasses.replace(cfg.seeds, values=[], start=5, count=0)))


def test_prompt_file_with_comments_and_inline_prompts(cfg, tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("# comment\n\nA cat on a wall\n  A dog in the rain  \n")
    prompts = load_prompts(with_(cfg, prompts=["Inline one"], prompt_file="p.txt"), [tmp_path])
    assert prompts == ["Inline one", "A cat on a wall", "A dog in the rain"]
    with pytest.raises(ConfigError, match="prompt_file"):
        load_prompts(with_(cfg, prompt_file="missing.txt"), [tmp_path])
    with pytest.raises(ConfigError, match="listed twice"):
        load_prompts(with_(cfg, prompts=["Same", "Same"]))


def test_conditioning_sets_multiply_items_and_split_batches(cfg, tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(b"png")
    conds = [ConditioningCfg("first", [ImageCondCfg(str(img), 0, 1.0)]),
             ConditioningCfg("keyframe", [ImageCondCfg(str(img), 8, 0.8)])]
    plan = build_plan(with_(cfg, conditioning=conds), fake_pipeline(), 8)
    assert len(plan.items) == 8 and {p.conditioning for p in plan.items} == {"first", "keyframe"}
    # A keyframe at frame 8 adds tokens: those items never share a batch with the others.
    assert sorted(len(b) for b in plan.batches()) == [4, 4]


def test_slugs_are_safe_file_names():
    assert slugify("A Red Fox / ../../etc/passwd; rm -rf *") == "a-red-fox-etc-passwd-rm-rf"
    assert slugify("Café au lait — déjà vu") == "cafe-au-lait-deja-vu"
    assert slugify("x" * 300) == "x" * 48 and slugify("日本語") == ""
    s = bounded_slug("prompt='a paper boat, drifting',seed=1")
    assert "/" not in s and "'" not in s and "," not in s and len(s) <= 89
