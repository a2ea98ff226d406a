"""The imagination chain end to end in demo mode, re-running from a step, failures, and the Karlo prompt rules."""
from __future__ import annotations

import pytest

from lib import config, demo
from lib.compare import Target
from lib.errors import ContentRejected, InvalidInput
from lib.pipeline import (
    DEFAULT_STYLE_WORDS,
    STEP_NAMES,
    StepTemplate,
    default_templates,
    karlo_prompt,
    looks_non_english,
    render_images,
    run_pipeline,
    split_descriptors,
    translate_to_english,
)
from lib.store import open_store

MODEL = "gpt-5.4-mini"
IDEA = "인간이 화성에 정착한다면 건축물의 모습은"


@pytest.fixture
def demo_cfgs(studio_env):
    cfgs = config.resolve()
    assert cfgs["openai"].mode == "demo"
    calls = demo.running().state.calls
    with demo.running().state.lock:
        calls.clear()
    return cfgs


def chat_calls():
    return [c["body"] for c in demo.running().state.calls if c["path"] == "/v1/chat/completions"]


def test_chain_runs_end_to_end_with_the_seed_wording_and_one_ledger_group(demo_cfgs):
    cfg = demo_cfgs["openai"]
    seen = []
    run = run_pipeline(cfg, IDEA, model=MODEL, subject="Futuristic mars villages", on_step=lambda i, s: seen.append(i))

    assert seen == list(range(6)) and run.failed_step is None
    assert [s.name for s in run.steps] == STEP_NAMES
    sent = chat_calls()
    assert len(sent) == 4  # imagine, detail, translate, condense; style and the tidy-up need no model
    assert sent[0]["messages"] == [
        {"role": "system", "content": "You are a helpful assistant who is good at detailing."},
        {"role": "user", "content": "인간이 화성에 정착한다면 건축물의 모습은 어떤 모습일지 자유롭게 상상해서 외형을 묘사해주세요."},
    ]
    # Step 2 continues the conversation, as the article does.
    assert [m["role"] for m in sent[1]["messages"]] == ["system", "user", "assistant", "user"]
    assert sent[1]["messages"][2]["content"] == run.steps[0].output
    assert sent[1]["messages"][3]["content"] == "위 내용을 바탕으로 외형적인 모습을 더 자세히 상상해서 묘사해주세요."
    assert sent[2]["messages"][0]["content"] == "You are a helpful assistant who is good at translating."
    assert sent[2]["messages"][1:] == [{"role": "assistant", "content": run.steps[1].output},
                                       {"role": "user", "content": "영어로 번역해주세요."}]
    assert sent[3]["messages"][-1]["content"] == (
        "Condense up to 4 outward description to focus on nouns and adjectives separated by ,")

    descriptors = run.steps[3].output
    assert 1 <= len(split_descriptors(descriptors)) <= 4
    assert run.final_prompt.startswith("Futuristic mars villages, ")
    assert run.final_prompt.endswith(DEFAULT_STYLE_WORDS)
    assert "\n" not in run.final_prompt

    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert [r.action for r in rows] == ["pipeline-step"] * 4
    assert [r.params["step"] for r in rows] == ["imagine", "detail", "translate", "condense"]
    assert all(r.status == "ok" and r.input_tokens and r.output_tokens for r in rows)
    assert all(r.cost_usd is not None and r.cost_usd > 0 and r.backend == "demo" for r in rows)
    assert rows[3].output_text == descriptors

    # The final prompt on two engines: the images join the same group.
    targets = [Target("gpt-image-2", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "low"}),
               Target("Karlo", "karlo", "karlo-v2.1", {"width": 512, "height": 512})]
    images = render_images(demo_cfgs, run.final_prompt, targets, group_id=run.group_id, timeout_s=60)
    assert [c.status for c in images.cells] == ["ok", "ok"]
    rows = ledger.rows(group_id=run.group_id)
    assert [r.action for r in rows[4:]].count("generate") == 1 and [r.action for r in rows[4:]].count("t2i") == 1
    assert all(r.output_refs for r in rows[4:])


def test_rerun_from_step_3_after_an_edit_sends_only_steps_3_and_4(demo_cfgs):
    cfg = demo_cfgs["openai"]
    first = run_pipeline(cfg, IDEA, model=MODEL)
    edited_detail = "붉은 사막 위의 투명한 돔, 원통형 강철 벽"
    outputs = first.outputs
    outputs[1] = edited_detail  # the person rewrote step 2's reply
    templates = default_templates("ko")
    templates["translate"] = StepTemplate(templates["translate"].system, "영어로 번역해주세요. 짧게.")
    with demo.running().state.lock:
        demo.running().state.calls.clear()

    again = run_pipeline(cfg, IDEA, model=MODEL, templates=templates, from_step=2, previous_outputs=outputs,
                         previous_prompts=[s.prompt_sent for s in first.steps], group_id=first.group_id)

    sent = chat_calls()
    assert len(sent) == 2  # translate and condense only: steps 1 and 2 are not sent again
    assert sent[0]["messages"][1:] == [{"role": "assistant", "content": edited_detail},
                                       {"role": "user", "content": "영어로 번역해주세요. 짧게."}]
    assert sent[1]["messages"][1]["content"] == again.steps[2].output
    assert again.outputs[:2] == [first.steps[0].output, edited_detail]
    assert [s.note for s in again.steps[:2]] == ["kept", "kept"]
    assert again.final_prompt and again.group_id == first.group_id
    _, ledger = open_store()
    assert len(ledger.rows(group_id=first.group_id)) == 6  # 4 from the first run, 2 from the re-run


def test_a_failing_step_stops_the_chain_and_keeps_what_came_before(demo_cfgs):
    cfg = demo_cfgs["openai"]
    templates = default_templates("en")
    templates["detail"] = StepTemplate(templates["detail"].system, "More detail please [fault:moderation_blocked]")
    run = run_pipeline(cfg, "a city under the sea", model=MODEL, templates=templates)

    assert run.failed_step == 1 and run.final_prompt is None
    assert len(run.steps) == 2 and run.steps[0].ok and run.steps[0].output
    assert isinstance(run.steps[1].error, ContentRejected)
    assert len(chat_calls()) == 2
    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert [r.status for r in rows] == ["ok", "rejected"]
    assert rows[1].cost_source == "unpriced" and rows[1].error_message


def test_rerun_needs_the_earlier_outputs(demo_cfgs):
    with pytest.raises(InvalidInput):
        run_pipeline(demo_cfgs["openai"], IDEA, model=MODEL, from_step=3, previous_outputs=["only one"])
    with pytest.raises(InvalidInput):
        run_pipeline(demo_cfgs["openai"], "   ", model=MODEL)
    assert chat_calls() == []


def test_translate_to_english_on_its_own(demo_cfgs):
    english, turn = translate_to_english(demo_cfgs["openai"], "귀여운 고양이", model=MODEL)
    assert english and not looks_non_english(english)
    assert turn.usage is not None and turn.usage.output_tokens > 0
    assert "귀여운 고양이" in chat_calls()[0]["messages"][-1]["content"]


def test_looks_non_english():
    assert looks_non_english("화성의 집") and looks_non_english("Дом на Марсе") and looks_non_english("火星の家")
    assert not looks_non_english("A café on Mars, 8K, ultra-detailed!")


def test_karlo_prompt_is_english_and_fits_256_characters():
    long = ", ".join(f"descriptor number {i}" for i in range(40))
    fitted = karlo_prompt(long)
    assert len(fitted) <= 256 and fitted.endswith(tuple("0123456789"))  # cut between descriptors
    assert long.startswith(fitted)
    assert karlo_prompt("화성 마을, Futuristic mars villages\nsteel walls") == "Futuristic mars villages, steel walls"
    with pytest.raises(InvalidInput):
        karlo_prompt("화성의 미래 도시")


def test_condense_keeps_at_most_n_descriptors():
    from lib.pipeline import condense

    seed_answer = ("Sturdy, lightweight, steel walls. Cylindrical or spherical shape. "
                   "Large-scale perforated solar panels. Radiation-blocking interior devices.")
    assert condense(seed_answer, 4) == "Sturdy, lightweight, steel walls, Cylindrical or spherical shape"
    assert condense("1. red dunes\n2. glass domes\n- solar sails", 5) == "red dunes, glass domes, solar sails"


def test_rerun_from_step_2_without_the_kept_prompts_rebuilds_step_1s_question(demo_cfgs):
    run_pipeline(demo_cfgs["openai"], IDEA, model=MODEL, from_step=1, previous_outputs=["화성의 돔 도시"])
    detail = chat_calls()[0]["messages"]
    assert detail[1] == {"role": "user", "content": f"{IDEA} 어떤 모습일지 자유롭게 상상해서 외형을 묘사해주세요."}
    assert detail[2] == {"role": "assistant", "content": "화성의 돔 도시"}
