"""The imagination chain from the seed article: imagine → more detail → English → a few descriptors → style words → image prompt.

Each step's instruction is an editable ``StepTemplate``; the defaults reproduce
the seed's wording (Korean, as the article wrote it, or English equivalents).
Steps 1–4 ask a chat model; steps 5–6 are plain text work (the article added the
style words by hand).  ``run_pipeline`` can start again from any step, taking
the earlier outputs as given (a person may have edited them), and stops at the
first step that fails with everything before it kept.  Every model call is one
ledger row (action ``pipeline-step``) in the run's group.

``translate_to_english`` and ``looks_non_english`` stand on their own: the Karlo
page (``translate_on_ledger``) and Compare (``begin_translation``) use them for a Korean prompt, each translation
one ledger row through the one send path (pending and budget-checked first); ``karlo_prompt`` fits a prompt to
Karlo's English-only, 256-character field.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from lib.config import ProviderConfig
from lib.errors import AuthError, InvalidInput, StudioError
from lib.providers import openai_chat
from lib.types import ChatTurn

KARLO_PROMPT_MAX = 256
DEFAULT_CONDENSE_MAX = 4  # the seed asks for "up to 4"
DEFAULT_STYLE_WORDS = "concept art, realistic lighting, ultra-detailed, 8K, photorealism, digital art"  # the seed's params


@dataclass(frozen=True)
class StepTemplate:
    """What one step sends: a system message and a user instruction with {placeholders}."""

    system: str
    user: str


@dataclass(frozen=True)
class StepInfo:
    name: str
    title: str
    uses_model: bool
    placeholders: str  # shown next to the template editor


STEPS: list[StepInfo] = [
    StepInfo("imagine", "Imagine", True, "{idea}"),
    StepInfo("detail", "More detail", True, "(sees the idea and step 1's reply)"),
    StepInfo("translate", "Translate to English", True, "(sees step 2's reply)"),
    StepInfo("condense", "Condense to descriptors", True, "{n}"),
    StepInfo("style", "Add style words", False, "{subject} {descriptors} {style_words}"),
    StepInfo("prompt", "Image prompt", False, "(tidies step 5: one line, no repeats)"),
]
STEP_NAMES = [s.name for s in STEPS]

_DETAILING = "You are a helpful assistant who is good at detailing."
_TRANSLATING = "You are a helpful assistant who is good at translating."
_PROMPTING = "You are an assistant who is good at creating prompts for image creation."
_CONDENSE = "Condense up to {n} outward description to focus on nouns and adjectives separated by ,"
_STYLE = StepTemplate("", "{subject}, {descriptors}, {style_words}")
_PROMPT = StepTemplate("", "")

# The article's own words (2023-03-04 post, and kairess/Chat2Image-Creator's notebook for the short forms).
KOREAN_TEMPLATES = {
    "imagine": StepTemplate(_DETAILING, "{idea} 어떤 모습일지 자유롭게 상상해서 외형을 묘사해주세요."),
    "detail": StepTemplate(_DETAILING, "위 내용을 바탕으로 외형적인 모습을 더 자세히 상상해서 묘사해주세요."),
    "translate": StepTemplate(_TRANSLATING, "영어로 번역해주세요."),
    "condense": StepTemplate(_PROMPTING, _CONDENSE),
    "style": _STYLE,
    "prompt": _PROMPT,
}
ENGLISH_TEMPLATES = {
    "imagine": StepTemplate(_DETAILING, "Imagine freely what {idea} would look like, and describe its appearance."),
    "detail": StepTemplate(_DETAILING, "Based on the above, imagine its outward appearance in more detail and describe it."),
    "translate": StepTemplate(_TRANSLATING, "Translate it into English."),
    "condense": StepTemplate(_PROMPTING, _CONDENSE),
    "style": _STYLE,
    "prompt": _PROMPT,
}


def default_templates(language: str = "ko") -> dict[str, StepTemplate]:
    """The seed's instructions: ``"ko"`` as the article wrote them, ``"en"`` in English."""
    return dict(KOREAN_TEMPLATES if language == "ko" else ENGLISH_TEMPLATES)


@dataclass
class StepResult:
    """What one step sent and got back.  ``turn`` is ``None`` for text-only or skipped steps."""

    name: str
    prompt_sent: str  # the user instruction as sent (or the text the step worked on)
    output: str
    turn: ChatTurn | None = None
    error: StudioError | None = None
    note: str | None = None  # e.g. "kept" for a step taken from an earlier run
    ledger_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class PipelineRun:
    steps: list[StepResult]
    final_prompt: str | None
    group_id: str

    @property
    def failed_step(self) -> int | None:
        """Index of the step that failed, or ``None``."""
        return next((i for i, s in enumerate(self.steps) if s.error is not None), None)

    @property
    def outputs(self) -> list[str]:
        return [s.output for s in self.steps]


# -- language -----------------------------------------------------------------------------------------

def looks_non_english(text: str) -> bool:
    """True when the text has letters outside the Latin script (Hangul, kana, CJK, Cyrillic, ...)."""
    for ch in text:
        if ch.isalpha() and ord(ch) > 0x24F and not unicodedata.name(ch, "").startswith("LATIN"):
            return True
    return False


def _latin_only(text: str) -> str:
    kept = []
    for ch in text:
        if ch.isalpha() and ord(ch) > 0x24F and not unicodedata.name(ch, "").startswith("LATIN"):
            continue
        # Accented Latin letters become plain ones (é → e); Karlo asks for English text.
        kept.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() if ord(ch) > 127 else ch)
    return "".join(kept)


CHAT_PROVIDER = "openai"  # the chat model that imagines, details, translates and condenses (lib/providers/openai_chat)


def chat_config(configs: dict[str, ProviderConfig]) -> ProviderConfig | None:
    """The config of the chat provider the pipeline and translations use, if there is one."""
    return configs.get(CHAT_PROVIDER)


def karlo_prompt(text: str, limit: int = KARLO_PROMPT_MAX) -> str:
    """The prompt as Karlo takes it: English letters only, at most ``limit`` characters, cut between descriptors.

    Raises ``InvalidInput`` when nothing English is left (translate it first).
    """
    cleaned = re.sub(r"[ \t]*\n+[ \t]*", ", ", _latin_only(text))
    cleaned = re.sub(r"\s+", " ", cleaned)
    cleaned = re.sub(r"\s*,(\s*,)+", ",", cleaned).strip(" ,")
    if not re.search(r"[A-Za-z]", cleaned):
        raise InvalidInput(
            "Karlo takes English prompts only and this one has no English in it. Translate it first "
            "(the Karlo page and the pipeline can do that for you).", provider="karlo", param="prompt",
        )
    if len(cleaned) <= limit:
        return cleaned
    head = cleaned[: limit + 1]
    cut = head.rfind(",")
    if cut < limit // 2:  # no descriptor boundary late enough: cut between words instead
        cut = head.rfind(" ")
    if cut <= 0:
        cut = limit
    return cleaned[:cut].rstrip(" ,")


def translation_messages(text: str) -> list[dict]:
    """What a translation to English sends to the chat model."""
    return [
        {"role": "system", "content": _TRANSLATING + " Reply with the English translation only, nothing else."},
        {"role": "user", "content": f"Translate into English:\n\n{text}"},
    ]


def translate_to_english(
    cfg: ProviderConfig, text: str, *, model: str, timeout: float | None = None
) -> tuple[str, ChatTurn]:
    """English for ``text`` and the chat turn that made it: the call alone, on no ledger (see ``translate_on_ledger``)."""
    if not text.strip():
        raise InvalidInput("There is no text to translate.", provider="openai", param="prompt")
    turn = openai_chat.complete(cfg, model=model, messages=translation_messages(text), timeout=timeout)
    return turn.text.strip(), turn


def begin_translation(cfg: ProviderConfig, text: str, *, model: str, page: str, group_id: str | None = None,
                      person: str | None = None, params: dict | None = None) -> str | None:
    """A translation's ``pending`` row before it goes out, through the one send path (``lib.send.begin_chat``: its
    estimated cost, the hard budgets).  Raises ``BudgetExceeded`` when a hard budget would be passed: nothing may be
    sent.  ``None`` when the ledger cannot be written (the call goes on; its row is tried again when it settles)."""
    from lib import send

    return send.begin_chat(cfg=cfg, page=page, action="translate", model=model, messages=translation_messages(text),
                           prompt=text, params=params, group_id=group_id, person=person, endpoint=openai_chat.ENDPOINT)


def translate_on_ledger(cfg: ProviderConfig | None, text: str, *, page: str, model: str | None = None,
                        person: str | None = None, group_id: str | None = None, params: dict | None = None,
                        timeout: float | None = None) -> str:
    """English for ``text`` as one ledger row: pending (and checked against the hard budgets) before the call,
    settled after with its tokens, cost and person.  ``model``: the catalog's default chat model for ``cfg``.
    Raises the ``StudioError`` that stopped it (a budget's refusal is recorded as a ``rejected`` row and nothing
    is sent; a chat provider that is not set up is refused before anything is written or sent)."""
    from lib import catalog
    from lib.store import record_call  # late: translating works without a data dir for callers on no ledger

    if not text.strip():
        raise InvalidInput("There is no text to translate.", provider="openai", param="prompt")
    if cfg is None or not cfg.usable:
        problem = (cfg.problem if cfg is not None and cfg.problem else "add an OpenAI key.").rstrip()
        raise AuthError(f"Translating needs OpenAI's chat model, which is not set up: {problem} Or write the prompt "
                        "in English.", provider="openai")
    offered = [] if model else catalog.chat_models(cfg)
    if not model and not offered:
        raise InvalidInput("No chat model is offered to translate with; write the prompt in English.",
                           provider="openai", param="model")
    model = model or offered[0].id
    call_id, english, turn, error = None, "", None, None
    try:
        call_id = begin_translation(cfg, text, model=model, page=page, group_id=group_id, person=person, params=params)
        english, turn = translate_to_english(cfg, text, model=model, timeout=timeout)
    except StudioError as exc:
        error = exc
    try:
        record_call(page=page, action="translate", cfg=cfg, result=turn, error=error, prompt=text, model=model,
                    params=params, endpoint=openai_chat.ENDPOINT, group_id=group_id,
                    output_text=turn.text if turn else None, latency_ms=turn.latency_ms if turn else None,
                    person=person, **({"call_id": call_id} if call_id else {}))
    except StudioError:
        if error is None and english:
            return english  # paid for and usable; its pending row is settled as interrupted by the sweeper
        raise
    if error is not None:
        raise error
    return english


# -- text steps -----------------------------------------------------------------------------------------

def fill(template: str, values: dict[str, object]) -> str:
    """Put values into ``{name}`` placeholders; any other braces a person typed stay as they are."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def split_descriptors(text: str) -> list[str]:
    """Descriptors from a model's reply: split on commas, full stops, semicolons, lines and list bullets."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line)  # "1. red dunes", "- glass domes"
        for piece in re.split(r"[,;]|\.(?:\s|$)", line):
            piece = piece.strip(" .\"'")
            if piece:
                out.append(piece)
    return out


def condense(text: str, n: int) -> str:
    """At most ``n`` comma-separated descriptors, whatever shape the model answered in."""
    return ", ".join(split_descriptors(text)[: max(1, n)])


def tidy_prompt(text: str) -> str:
    """One line of comma-separated phrases, each once, in order."""
    seen: set[str] = set()
    phrases = []
    for phrase in split_descriptors(text):
        key = phrase.lower()
        if key not in seen:
            seen.add(key)
            phrases.append(phrase)
    return ", ".join(phrases)


# -- the chain ----------------------------------------------------------------------------------------

def _messages(name: str, template: StepTemplate, idea: str, outputs: list[str], prompts: list[str], n: int) -> list[dict]:
    """The conversation each model step sends, shaped as in the article."""
    system = [{"role": "system", "content": template.system}] if template.system.strip() else []
    user = fill(template.user, {"idea": idea, "n": n})
    if name == "imagine":
        return system + [{"role": "user", "content": user}]
    if name == "detail":  # the article continues the same conversation
        return system + [{"role": "user", "content": prompts[0]}, {"role": "assistant", "content": outputs[0]},
                         {"role": "user", "content": user}]
    previous = outputs[STEP_NAMES.index(name) - 1]  # a fresh conversation over the previous reply
    return system + [{"role": "assistant", "content": previous}, {"role": "user", "content": user}]


def _begin(cfg, messages: list[dict], index: int, *, model: str, group_id: str, page: str, params: dict,
           person: str | None) -> tuple[str | None, StudioError | None]:
    """A model step's pending row before it is sent: ``(call id, None)``, or ``(None, the budget's refusal)``."""
    from lib import send

    try:
        return send.begin_chat(cfg=cfg, page=page, action="pipeline-step", model=model, messages=messages,
                               prompt=messages[-1]["content"], group_id=group_id, person=person,
                               params={"step": STEP_NAMES[index], "step_index": index + 1, **params},
                               endpoint=openai_chat.ENDPOINT), None
    except StudioError as refused:
        return None, refused


def _record(cfg, step: StepResult, index: int, *, model: str, group_id: str, page: str, params: dict,
            person: str | None = None, call_id: str | None = None) -> str | None:
    from lib.store import record_call  # imported late: the chain itself works without a data dir

    row = record_call(
        page=page, action="pipeline-step", cfg=cfg, result=step.turn, error=step.error, prompt=step.prompt_sent,
        params={"step": step.name, "step_index": index + 1, **params}, model=model, endpoint=openai_chat.ENDPOINT,
        group_id=group_id, output_text=step.output or None,
        latency_ms=step.turn.latency_ms if step.turn else None, person=person, call_id=call_id,
    )
    return getattr(row, "id", None)


def run_pipeline(
    cfg: ProviderConfig,
    idea: str,
    *,
    templates: dict[str, StepTemplate] | None = None,
    model: str,
    from_step: int = 0,
    previous_outputs: list[str] | None = None,
    previous_prompts: list[str] | None = None,
    on_step: Callable[[int, StepResult], None] | None = None,
    condense_max: int = DEFAULT_CONDENSE_MAX,
    style_words: str = DEFAULT_STYLE_WORDS,
    subject: str = "",
    temperature: float | None = None,
    group_id: str | None = None,
    record: bool = True,
    page: str = "pipeline",
    person: str | None = None,
) -> PipelineRun:
    """Run the chain from step ``from_step`` (0-based) to the end.

    Steps before ``from_step`` are taken from ``previous_outputs`` (as a person
    left them, edits included) and are not sent again.  A failing step ends the
    run: its ``StepResult`` carries the error and the steps before it are kept.
    ``on_step(index, result)`` is called as each step finishes.  With ``record``
    every model call becomes a ledger row in ``group_id`` (new when ``None``).
    """
    templates = {**default_templates("ko"), **(templates or {})}
    previous_outputs = list(previous_outputs or [])
    previous_prompts = list(previous_prompts or [])
    if not 0 <= from_step < len(STEPS):
        raise InvalidInput(f"There is no step {from_step + 1}; the chain has {len(STEPS)} steps.")
    if len(previous_outputs) < from_step:
        raise InvalidInput(f"Re-running from step {from_step + 1} needs the outputs of the {from_step} steps before it.")
    if from_step == 0 and not idea.strip():
        raise InvalidInput("Write an idea first: what should the model imagine?", param="idea")
    group_id = group_id or uuid.uuid4().hex
    params = {"condense_max": condense_max, **({"temperature": temperature} if temperature is not None else {})}

    if from_step > 0 and not (previous_prompts[:1] and previous_prompts[0]):
        # Step 2 replays step 1's question; rebuild it when the caller did not keep it.
        previous_prompts[:1] = [fill(templates["imagine"].user, {"idea": idea, "n": condense_max})]
    steps = [StepResult(STEP_NAMES[i], previous_prompts[i] if i < len(previous_prompts) else "", previous_outputs[i],
                        note="kept") for i in range(from_step)]
    outputs = previous_outputs[:from_step]
    prompts = [s.prompt_sent for s in steps]
    for index in range(from_step, len(STEPS)):
        name = STEP_NAMES[index]
        template = templates[name]
        call_id, refused = None, None
        if record and STEPS[index].uses_model:  # pending before it goes out, and a hard budget may stop it here
            messages = _messages(name, template, idea, outputs, prompts, condense_max)
            call_id, refused = _begin(cfg, messages, index, model=model, group_id=group_id, page=page, params=params,
                                      person=person)
        if refused is not None:
            step = StepResult(name, messages[-1]["content"], "", error=refused)
        else:
            step = _run_step(cfg, name, template, idea, outputs, prompts, model=model, n=condense_max,
                             style_words=style_words, subject=subject, temperature=temperature)
        if record and (step.turn is not None or step.error is not None):
            try:
                step.ledger_id = _record(cfg, step, index, model=model, group_id=group_id, page=page, params=params,
                                         person=person, call_id=call_id)
            except StudioError as exc:  # the ledger could not be written: the person still gets the text
                step.note = f"not recorded in the ledger: {exc.message}"
        steps.append(step)
        outputs.append(step.output)
        prompts.append(step.prompt_sent)
        if on_step is not None:
            on_step(index, step)
        if step.error is not None:
            return PipelineRun(steps, None, group_id)
    return PipelineRun(steps, steps[-1].output, group_id)


def _run_step(cfg, name, template, idea, outputs, prompts, *, model, n, style_words, subject, temperature) -> StepResult:
    if name == "style":
        filled = fill(template.user, {"subject": subject, "descriptors": outputs[-1], "style_words": style_words})
        text = ", ".join(p.strip() for p in filled.split(",") if p.strip())  # an empty {subject} leaves no stray comma
        return StepResult(name, template.user, text)
    if name == "prompt":
        return StepResult(name, outputs[-1], tidy_prompt(outputs[-1]))
    messages = _messages(name, template, idea, outputs, prompts, n)
    sent = messages[-1]["content"]
    try:
        turn = openai_chat.complete(cfg, model=model, messages=messages, temperature=temperature)
    except StudioError as err:
        return StepResult(name, sent, "", error=err)
    output = condense(turn.text, n) if name == "condense" else turn.text.strip()
    return StepResult(name, sent, output, turn=turn)


def render_images(
    configs: dict[str, ProviderConfig],
    prompt: str,
    targets: list,
    *,
    group_id: str,
    timeout_s: float | None = None,
    on_result: Callable | None = None,
    page: str = "pipeline",
    person: str | None = None,
    cancel_event=None,
):
    """The final prompt on every engine the person picked, all at once, each image row in the run's ledger group.

    ``targets`` are ``lib.compare.Target``s; a failing engine fails only its own
    cell.  Each engine gets the prompt as it takes it (``Engine.prepare_prompt``: Karlo
    English only, at most 256 characters); the card notes any change.
    Returns the ``lib.compare.CompareRun``.
    """
    from lib import compare
    from lib.providers import registry

    def fitted_call(provider: str):
        engine, call = registry.get(provider), compare.engine_call(provider, page)

        def fitted(cfg: ProviderConfig, sent: str, settings: dict):
            prompt, notes = engine.prepare_prompt(settings.get("model"), sent) if engine else (sent, [])
            result = call(cfg, prompt, settings)
            result.notes.extend(notes)
            return result

        return fitted

    calls = {t.provider: fitted_call(t.provider) for t in targets}
    from lib import limits

    timeout_s = limits.provider_timeout_s() if timeout_s is None else timeout_s
    return compare.run_compare(configs, [prompt], targets, timeout_s=timeout_s, on_result=on_result,
                               group_id=group_id, calls=calls, page=page, person=person, cancel_event=cancel_event)


__all__ = [
    "STEPS", "STEP_NAMES", "StepTemplate", "StepResult", "PipelineRun", "default_templates", "run_pipeline",
    "translate_to_english", "translate_on_ledger", "begin_translation", "translation_messages", "looks_non_english", "karlo_prompt", "render_images", "condense", "tidy_prompt", "fill",
    "KARLO_PROMPT_MAX", "DEFAULT_STYLE_WORDS", "DEFAULT_CONDENSE_MAX",
]
