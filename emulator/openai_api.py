"""OpenAI wire protocol (placeholder until implemented)."""


def routes(state):
    return []
