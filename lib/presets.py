"""Saved prompts and presets: each belongs to the person who saved it.

A member sees the built-in presets plus their own saved ones, and overwrites or deletes only their own;
an admin also sees everyone else's (labelled with whose they are) and may delete them.  Stored in the
ledger's ``presets`` table (migration 010), keyed by kind, owner (``lib.people.Person.key``) and name.
"""
from __future__ import annotations

from dataclasses import dataclass

from lib.errors import InvalidInput
from lib.people import NotAllowed, Person, may_change
from lib.store.ledger import Preset

CHAT_SYSTEM_PROMPT = "chat.system_prompt"  # kind: the Chat page's saved system prompts
NAME_MAX_CHARS = 80
TEXT_MAX_CHARS = 20_000

# The seed article's roles, then a plain one: offered to everyone, owned by no one.
BUILT_IN_SYSTEM_PROMPTS = {
    "Helpful assistant": "You are a helpful assistant.",
    "Good at detailing": "You are a helpful assistant who is good at detailing.",
    "Good at translating": "You are a helpful assistant who is good at translating.",
    "Writes prompts for image generation": "You are an assistant who is good at creating prompts for image creation.",
    "Organises prompts for images": "You are a helpful assistant for organizing prompt for generating images.",
}
DEFAULT_SYSTEM_PROMPT = BUILT_IN_SYSTEM_PROMPTS["Helpful assistant"]


@dataclass(frozen=True)
class Choice:
    """One entry of a preset list: its text and, for a saved one, whose it is."""

    label: str
    text: str
    owner: str | None = None  # None: built in
    name: str | None = None


def saved(ledger, person: Person, kind: str = CHAT_SYSTEM_PROMPT) -> list[Preset]:
    """What ``person`` may see: their own saved presets, and everyone's for an admin."""
    return ledger.presets(kind, persons=None if person.is_admin else [person.key])


def system_prompt_choices(ledger, person: Person) -> dict[str, Choice]:
    """Built-in system prompts, then ``person``'s saved ones ("Saved: name"), then (admins) other people's."""
    choices = {label: Choice(label, text) for label, text in BUILT_IN_SYSTEM_PROMPTS.items()}
    found = saved(ledger, person)
    for preset in sorted(found, key=lambda p: p.person != person.key):  # one's own first
        whose = "" if preset.person == person.key else f" by {preset.person_name or preset.person}"
        label = f"Saved{whose}: {preset.name}"
        if label in choices:  # two people with the same display name: tell them apart by key
            label = f"Saved by {preset.person}: {preset.name}"
        choices[label] = Choice(label, str(preset.value), preset.person, preset.name)
    return choices


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("Give the preset a name first.", param="name")
    if len(cleaned) > NAME_MAX_CHARS:
        raise InvalidInput(f"A preset name is at most {NAME_MAX_CHARS} characters; this one has {len(cleaned)}.",
                           param="name")
    return cleaned


def save(ledger, person: Person, name: str, text: str, *, kind: str = CHAT_SYSTEM_PROMPT,
         owner: str | None = None) -> Preset:
    """Save ``text`` as ``person``'s preset ``name`` (overwriting their own of that name).

    Saving into someone else's (``owner``) is for admins only (``NotAllowed``)."""
    owner = owner or person.key
    if not may_change(person, owner):
        raise NotAllowed("You can change only your own presets; save it under a name of your own.",
                         code="not_your_preset")
    cleaned = _clean_name(name)
    if not (text or "").strip():
        raise InvalidInput("There is nothing to save: the text is empty.", param="text")
    if len(text) > TEXT_MAX_CHARS:
        raise InvalidInput(f"A saved prompt is at most {TEXT_MAX_CHARS:,} characters; this one has {len(text):,}.",
                           param="text")
    person_name = person.name if owner == person.key else None
    if person_name is None:  # an admin editing another's: keep the owner's own name
        person_name = next((p.person_name for p in ledger.presets(kind, persons=[owner]) if p.name == cleaned), None)
    ledger.put_preset(kind, owner, cleaned, text, person_name=person_name)
    return Preset(kind, owner, cleaned, text, person_name)


def delete(ledger, person: Person, name: str, *, owner: str | None = None, kind: str = CHAT_SYSTEM_PROMPT) -> None:
    """Delete the preset ``name`` of ``owner`` (default: ``person``'s own); a member only their own."""
    owner = owner or person.key
    if not may_change(person, owner):
        raise NotAllowed("You can delete only your own presets; this one is someone else's.", code="not_your_preset")
    if not ledger.delete_preset(kind, owner, name):
        raise InvalidInput(f"There is no saved preset called “{name}” any more.", param="name")
