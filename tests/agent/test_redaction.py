"""agent.redaction: one routine for every writer; only strings change; patches are never edited."""

from __future__ import annotations

import logging

import pytest

from agent.policies import PolicyUnavailableError, make_policy
from agent.redaction import (
    PATCH_WITHHELD,
    SecretInPatch,
    carries_secret,
    known_secrets,
    register_secret,
    scrub,
    scrub_text,
)
from agent.trajectory import ExitStatus, Trajectory


def test_non_string_values_never_change():
    data = {
        "api_key_required": True,
        "api_key": None,
        "token": 5,
        "secret": {"depth": 1.5},
        "api_key_env": ["OPENAI_API_KEY"],
        "prompt_tokens": 12,
    }
    assert scrub(data, []) == data


def test_string_values_of_secret_named_keys_are_redacted():
    out = scrub({"api_key": "abc", "hf_token": "x", "Authorization": "Basic Zm9v", "x-api-key": "k"}, [])
    assert set(out.values()) == {"***"}


def test_url_credentials_are_redacted_by_shape_and_become_known_values():
    assert scrub_text("at http://user:pw@host:8000/v1 now", []) == "at http://***@host:8000/v1 now"
    register_secret("http://user:pw-registered-0123456789@host/v1")
    assert "pw-registered-0123456789" in known_secrets({})
    assert scrub_text("bare pw-registered-0123456789 here") == "bare *** here"


def test_secret_query_parameters_of_urls_are_redacted_and_become_known_values():
    spec = "judge:Qwen2.5-72B@https://gw.example/v1?api-key=qk-0123456789abcdef&region=eu"
    assert scrub_text(spec, []) == "judge:Qwen2.5-72B@https://gw.example/v1?api-key=***&region=eu"
    assert (
        scrub_text("http://h/v1?sig=abc%2Fdef&token=t0k3n-value#frag", [])
        == "http://h/v1?sig=***&token=***#frag"
    )
    assert scrub_text("http://h/v1?monkey=banana&keys=3", []) == "http://h/v1?monkey=banana&keys=3"
    register_secret("https://gw.example/v1?key=query-secret-0123456789")
    assert scrub_text("leaked query-secret-0123456789 in a log") == "leaked *** in a log"


def test_environment_credentials_are_known_values():
    env = {
        "MY_API_KEY": "value-of-my-api-key",
        "GITHUB_TOKEN": "value-of-the-token",
        "DB_PASSWORD": "value-of-the-password",
        "HTTPS_PROXY": "http://proxy-user:proxy-password-123@proxy:3128",
        "TOKENIZERS_PARALLELISM": "falsefalse",
        "HOME": "/root/home-folder",
    }
    found = known_secrets(env)
    for value in ("value-of-my-api-key", "value-of-the-token", "value-of-the-password", "proxy-password-123"):
        assert value in found
    assert "falsefalse" not in found and "/root/home-folder" not in found


def test_patches_are_written_verbatim_or_refused():
    shaped = "diff --git a/x b/x\n+KEY = 'sk-abcdefghijklmnopqrstuv'  # a fixture, not a known secret\n"
    assert scrub({"patch": shaped, "model_patch": shaped}, []) == {"patch": shaped, "model_patch": shaped}
    with pytest.raises(SecretInPatch, match="known secret") as exc:
        scrub({"model_patch": "+token = 'the-known-secret-1'"}, ["the-known-secret-1"])
    assert "the-known-secret-1" not in str(exc.value)


def test_a_trajectory_withholds_a_patch_carrying_a_known_secret(monkeypatch):
    secret = "tok-value-0123456789"
    monkeypatch.setenv("SWE_SEARCH_TEST_TOKEN", secret)
    assert carries_secret(f"+x = '{secret}'")
    traj = Trajectory(instance_id="t")
    traj.finish(ExitStatus.submitted, "the agent submitted", f"diff --git a/x b/x\n+x = '{secret}'\n")
    assert traj.exit_status is ExitStatus.secret_in_patch and traj.patch == ""
    assert traj.exit_message.startswith(PATCH_WITHHELD) and "submitted" in traj.exit_message
    assert secret not in traj.to_json()


def test_a_clean_patch_is_kept_as_it_is(monkeypatch):
    monkeypatch.setenv("SWE_SEARCH_TEST_TOKEN", "tok-value-0123456789")
    traj = Trajectory(instance_id="t")
    patch = "diff --git a/x b/x\n+url = 'http://u:p@example.com'\n"
    traj.finish(ExitStatus.submitted, "the agent submitted", patch)
    assert traj.exit_status is ExitStatus.submitted and traj.patch == patch
    assert '"patch": "diff --git a/x b/x\\n+url = \'http://u:p@example.com\'\\n"' in traj.to_json()


def test_policy_retry_warnings_do_not_show_url_credentials(caplog):
    policy = make_policy("m", base_url="http://user:hunter2@127.0.0.1:9/v1", retry_wait=0.0, max_attempts=2)
    with caplog.at_level(logging.WARNING, logger="agent.policies"), pytest.raises(PolicyUnavailableError):
        policy.sample([{"role": "user", "content": "hi"}])
    assert "attempt 1 failed" in caplog.text and "127.0.0.1:9" in caplog.text
    assert "hunter2" not in caplog.text and "http://***@127.0.0.1:9/v1" in caplog.text
