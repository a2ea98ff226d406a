"""How keys, base URLs and STUDIO_DEMO decide live / demo / misconfigured."""
from lib import config
from lib.errors import redact

DEMO = {"openai": "http://127.0.0.1:9/v1", "karlo": "http://127.0.0.1:9"}


def test_no_keys_means_demo_for_both(studio_env):
    cfgs = config.resolve(demo_base_urls=DEMO)
    assert {c.mode for c in cfgs.values()} == {"demo"}
    assert cfgs["openai"].base_url == DEMO["openai"] and cfgs["openai"].backend == "demo"


def test_environment_key_goes_live_and_sidebar_key_wins(studio_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0123456789")
    cfgs = config.resolve(demo_base_urls=DEMO)
    assert cfgs["openai"].mode == "live" and cfgs["openai"].key_source == "environment"
    assert cfgs["openai"].base_url == config.OPENAI_DEFAULT_BASE_URL and cfgs["openai"].is_official_openai
    assert cfgs["karlo"].mode == "demo"
    cfgs = config.resolve({"openai": "sk-sidebar-0123456789"}, demo_base_urls=DEMO)
    assert cfgs["openai"].key == "sk-sidebar-0123456789" and cfgs["openai"].key_source == "sidebar"


def test_key_never_in_repr(studio_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-0123456789")
    assert "sk-secret" not in repr(config.resolve(demo_base_urls=DEMO))


def test_demo_forced_and_forbidden(studio_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0123456789")
    monkeypatch.setenv("STUDIO_DEMO", "1")
    assert config.resolve(demo_base_urls=DEMO)["openai"].mode == "demo"
    monkeypatch.setenv("STUDIO_DEMO", "0")
    cfgs = config.resolve(demo_base_urls=DEMO)
    assert cfgs["openai"].mode == "live"
    assert cfgs["karlo"].mode == "misconfigured" and "KAKAO_REST_API_KEY" in cfgs["karlo"].problem


def test_secrets_toml_key_and_bad_file(studio_env, monkeypatch):
    secrets = studio_env.parent / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir(parents=True, exist_ok=True)
    secrets.write_text('KAKAO_REST_API_KEY = "kakao-from-secrets-123"\nKARLO_BASE_URL = "http://karlo.example:8080"\n')
    cfgs = config.resolve(demo_base_urls=DEMO)
    assert cfgs["karlo"].mode == "live" and cfgs["karlo"].key_source == "secrets.toml"
    assert cfgs["karlo"].base_url == "http://karlo.example:8080"
    secrets.write_text("not = = toml")
    _, problem = config.read_secrets_file()
    assert "could not be read" in problem and "restart" in problem


def test_redact_removes_known_and_key_shaped_secrets():
    text = "Incorrect API key provided: sk-abc123XYZ789; header Authorization: KakaoAK 8f7e6d5c; also mykey-42"
    out = redact(text, ["mykey-42"])
    assert "sk-abc123XYZ789" not in out and "8f7e6d5c" not in out and "mykey-42" not in out
    assert "KakaoAK [redacted]" in out
