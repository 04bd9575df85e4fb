"""The runner against the fake OpenAI-compatible server, on the lean ``oai/`` path:
cache, repeats, resume, budget and dry runs, with exact request counts from the
server's log."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import RunOptions, evaluate, load_run
from promptkit.run.cache import ResponseCache
from promptkit.run.caller import default_cache_path
from promptkit.run.runner import Progress
from tests.conftest import write
from tests.fake_server import FakeServer, Faults

PROMPT = """---
inputs: [text]
params: {temperature: 0, max_tokens: 8}
parser: {type: label, labels: [positive, negative]}
---
{% message "system" %}Reply with one word: positive or negative.{% endmessage %}
{% message "user" %}Review: {{ text }}{% endmessage %}
"""


def http_project(
    root: Path, url: str, *, rows: int = 12, extra: str = "", model_options: str = ""
) -> Path:
    """A suite of ``rows`` reviews for ``oai/fake`` at ``url``; the fake echoes the review,
    so the label parser reads the right label from every answer."""
    write(root / "prompts" / "review" / "v1.jinja", PROMPT)
    lines = []
    for i in range(rows):
        label = "positive" if i % 2 else "negative"
        lines.append(json.dumps({"id": f"r{i}", "text": f"review {i} is {label}", "label": label}))
    write(root / "datasets" / "rows.jsonl", "\n".join(lines) + "\n")
    return write(
        root / "evals" / "reviews.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\n"
        "inputs: [text]\n"
        "reference: label\n"
        "prompts: [review@v1]\n"
        f"models: [{{name: oai/fake, api_base: '{url}'{model_options}}}]\n"
        "scorers: [label_accuracy]\n" + extra,
    )


def requests_per_case(server: FakeServer) -> Counter[str]:
    return Counter(entry["case"] for entry in server.log())


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        yield running


def test_lean_path_answers_parses_and_counts_tokens(server: FakeServer, tmp_path: Path) -> None:
    result = evaluate(http_project(tmp_path, server.url))
    frame = load_run(result.run_id)
    assert result.cases == 12 and result.errors == 0
    assert (frame["output"] == "Review: " + frame["input"].map(lambda i: i["text"])).all()
    assert set(frame["score.label_accuracy"]) == {1.0}
    assert (frame["prompt_tokens"] > 0).all() and (frame["completion_tokens"] > 0).all()
    assert (frame["attempts"] == 1).all()
    assert len(server.log()) == 12


def test_cache_hits_keep_latency_and_cost_and_ask_nothing(
    server: FakeServer, tmp_path: Path
) -> None:
    prices = "prices: {oai/fake: {input_per_1m: 2.0, output_per_1m: 8.0}}\n"
    suite = http_project(tmp_path, server.url, extra=prices)
    first = load_run(evaluate(suite).run_id)
    seen: list[Progress] = []
    second_result = evaluate(suite, on_progress=seen.append)
    second = load_run(second_result.run_id)
    assert len(server.log()) == 12  # the second run asked nothing
    assert not first["cached"].any() and second["cached"].all()
    assert seen[-1].cache_hits == 12
    expected_cost = (first["prompt_tokens"] * 2.0 + first["completion_tokens"] * 8.0) / 1e6
    assert first["cost"].tolist() == pytest.approx(expected_cost.tolist())
    for column in ("latency_s", "cost", "output", "prompt_tokens"):
        assert second[column].tolist() == first[column].tolist()
    assert second_result.summaries[0].cache_hits == 12


def test_no_cache_skips_it_and_refresh_overwrites(server: FakeServer, tmp_path: Path) -> None:
    suite = http_project(tmp_path, server.url)
    evaluate(suite)
    server.configure(reply_prefix="new: ")
    no_cache = load_run(evaluate(suite, RunOptions(cache=False)).run_id)
    assert no_cache["output"].str.startswith("new: ").all() and not no_cache["cached"].any()
    assert not load_run(evaluate(suite).run_id)["output"].str.startswith("new: ").any()
    refreshed = load_run(evaluate(suite, RunOptions(refresh=True)).run_id)
    assert refreshed["output"].str.startswith("new: ").all()
    assert load_run(evaluate(suite).run_id)["output"].str.startswith("new: ").all()
    assert len(server.log()) == 12 * 3
    cache = ResponseCache(default_cache_path())
    assert len(cache) == 12
    cache.close()


def test_repeats_are_independent_requests_cached_apart(server: FakeServer, tmp_path: Path) -> None:
    suite = http_project(tmp_path, server.url, rows=4, extra="repeat: 3\nseed: 10\n")
    result = evaluate(suite)
    assert result.cases == 12
    seeds = sorted(entry["seed"] for entry in server.log())
    base = 10 * 1_000_003  # sample_seed(10, r): one formula for every provider
    assert seeds == [base] * 4 + [base + 1] * 4 + [base + 2] * 4  # one seed per repeat
    assert load_run(evaluate(suite).run_id)["cached"].all()
    assert len(server.log()) == 12


def test_api_base_is_part_of_the_cache_key(tmp_path: Path) -> None:
    with FakeServer() as one, FakeServer(Faults(reply_prefix="two: ")) as two:
        suite = http_project(tmp_path, one.url, rows=3)
        evaluate(suite)
        frame = load_run(evaluate(suite, RunOptions(api_base=two.url)).run_id)
        assert frame["output"].str.startswith("two: ").all()
        assert len(one.log()) == 3 and len(two.log()) == 3


def test_concurrency_bounds_requests_in_flight(tmp_path: Path) -> None:
    with FakeServer(Faults(latency_ms=30)) as server:
        evaluate(http_project(tmp_path, server.url), RunOptions(concurrency=3, cache=False))
        assert server.peak_in_flight == 3
    with FakeServer(Faults(latency_ms=30)) as server:
        # The model's own option beats the suite's.
        suite = http_project(
            tmp_path, server.url, extra="concurrency: 5\n", model_options=", concurrency: 2"
        )
        evaluate(suite, RunOptions(cache=False))
        assert server.peak_in_flight == 2


def test_fake_server_with_a_capacity_queues_the_rest(tmp_path: Path) -> None:
    with FakeServer(Faults(latency_ms=20, capacity=2)) as server:
        evaluate(http_project(tmp_path, server.url), RunOptions(concurrency=6, cache=False))
        assert server.peak_in_flight == 6 and server.peak_served == 2


def test_concurrency_auto_finds_a_single_slot_server_and_records_its_window(
    tmp_path: Path, cli: Any
) -> None:
    with FakeServer(Faults(latency_ms=20, capacity=1)) as server:
        suite = http_project(tmp_path, server.url, rows=40, extra="concurrency: auto\n")
        code, out, _ = cli("eval", str(suite), "--quiet", "--no-cache")
        assert code == 0 and len(server.log()) == 40
        peak = server.peak_in_flight
    run = sorted((tmp_path / ".promptkit" / "runs").iterdir())[-1]
    window = json.loads((run / "summary.json").read_text())["concurrency"]["oai/fake"]
    assert window["settled"] == 1 and window["lowest"] == 1
    assert 1 < window["highest"] <= 4 and peak <= window["highest"]  # probed, then cut
    assert window["latency_cuts"] >= 1 and window["no_load_latency_s"] > 0
    assert "concurrency auto, oai/fake: settled on 1 in flight" in out
    code, shown, _ = cli("show", str(run))
    assert code == 0 and "concurrency auto, oai/fake: settled on 1 in flight" in shown


def test_concurrency_auto_halves_on_429_and_a_fixed_width_records_nothing(tmp_path: Path) -> None:
    with FakeServer(Faults(rate_limit=0.3, retry_after="0")) as server:
        suite = http_project(tmp_path, server.url, rows=30, model_options=", concurrency: auto")
        result = evaluate(suite, RunOptions(cache=False, retries=10))
        assert result.errors == 0
        assert any(entry["outcome"] == "rate_limit" for entry in server.log())
    assert result.concurrency["oai/fake"]["drops"] >= 1
    fixed = evaluate(suite, RunOptions(cache=False, concurrency=3))
    assert fixed.concurrency == {}
    assert "concurrency" not in json.loads((fixed.path / "summary.json").read_text())


def test_concurrency_auto_from_the_options_stays_under_the_providers_default(
    tmp_path: Path,
) -> None:
    from promptkit import load_suite
    from promptkit.run.caller import Caller
    from promptkit.run.pricing import Budget

    suite = load_suite(http_project(tmp_path, "http://unused/v1", extra="concurrency: 7\n"))
    caller = Caller(suite, RunOptions(cache=False, concurrency="auto"), Budget(None), tmp_path)
    lane = caller.lane("oai/fake")
    assert lane.adaptive is not None and lane.adaptive.limit.window == 1
    assert lane.width == 64  # the most it may reach: oai/'s fixed default


def test_rpm_and_concurrency_settings_reach_each_model(tmp_path: Path) -> None:
    from promptkit import load_suite
    from promptkit.run.caller import Caller, RunOptions
    from promptkit.run.pricing import Budget

    suite = load_suite(
        http_project(tmp_path, "http://unused/v1", extra="rpm: 30\nconcurrency: 7\n")
    )
    lane = Caller(suite, RunOptions(cache=False), Budget(None), tmp_path).lane("oai/fake")
    assert lane.width == 7 and lane.limiter is not None and lane.limiter.interval == 2.0
    lane = Caller(
        suite, RunOptions(cache=False, rpm=120, concurrency=3), Budget(None), tmp_path
    ).lane("oai/fake")
    assert lane.width == 3 and lane.limiter is not None and lane.limiter.interval == 0.5
    judge = Caller(suite, RunOptions(cache=False), Budget(None), tmp_path).lane("oai/judge")
    assert judge.width == 7 and judge.limiter is not None  # a scorer's model: suite settings
    plain = load_suite(http_project(tmp_path, "http://unused/v1"))
    lane = Caller(plain, RunOptions(cache=False), Budget(None), tmp_path).lane("oai/fake")
    assert lane.width == 64 and lane.limiter is None  # the provider's default, no pacing


def test_non_retryable_errors_fail_at_once(server: FakeServer, tmp_path: Path) -> None:
    server.configure(bad_request=1.0)
    result = evaluate(http_project(tmp_path, server.url))
    frame = load_run(result.run_id)
    assert result.errors == 12
    assert frame["error"].str.startswith("HTTP 400: bad request (fake)").all()
    assert set(requests_per_case(server).values()) == {1}


def test_resume_asks_only_errored_and_missing_cases(server: FakeServer, tmp_path: Path) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    server.configure(bad_request=0.4, seed=3)
    first = evaluate(suite, RunOptions(cache=False))
    failed = {row for row in load_run(first.run_id).query("error.notna()")["row_id"]}
    assert 0 < len(failed) < 20
    # Lose the journal's last good line too, as a kill would.
    journal = first.path / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    last_good = next(i for i in reversed(range(len(lines))) if '"error": null' in lines[i])
    lost = json.loads(lines[last_good])["row_id"]
    journal.write_text("".join(lines[:last_good] + lines[last_good + 1 :]))
    server.configure(bad_request=0.0)
    before = len(server.log())
    resumed = evaluate(suite, RunOptions(cache=False, resume=True))
    assert resumed.run_id == first.run_id
    asked = [e["case"] for e in server.log()[before:]]
    rows = load_run(first.run_id)
    assert len(asked) == len(failed) + 1
    assert set(asked) == {f"Review: {_text_of(rows, r)}" for r in failed | {lost}}
    assert len(rows) == 20 and rows["error"].isna().all()  # one final row per case
    summary = json.loads((first.path / "summary.json").read_text())
    assert summary["cases"] == 20 and summary["errors"] == 0
    assert len(journal.read_text().splitlines()) == 20 + len(failed)  # earlier rows kept


def _text_of(frame: Any, row_id: str) -> str:
    return str(frame[frame["row_id"] == row_id]["input"].iloc[0]["text"])


def test_resume_refuses_a_changed_prompt(server: FakeServer, tmp_path: Path) -> None:
    from promptkit import BadInput

    suite = http_project(tmp_path, server.url, rows=2)
    evaluate(suite)
    prompt = tmp_path / "prompts" / "review" / "v1.jinja"
    prompt.write_text(prompt.read_text().replace("one word", "a single word"))
    with pytest.raises(BadInput, match="review@v1 changed since run"):
        evaluate(suite, RunOptions(resume=True))


def test_max_cost_stops_new_requests_and_resume_finishes(
    server: FakeServer, tmp_path: Path
) -> None:
    # Every request costs exactly $0.01: 100 prompt tokens at... the fake counts
    # characters / 4, so price the output instead: 1 answer token costs $0.01.
    prices = "prices: {oai/fake: {input_per_1m: 0, output_per_1m: 10000}}\n"
    suite = http_project(tmp_path, server.url, rows=10, extra=prices)
    result = evaluate(suite, RunOptions(concurrency=1, max_cost=0.25))
    frame = load_run(result.run_id)
    per_case = frame["cost"].iloc[0]
    assert per_case > 0 and (frame["cost"] == per_case).all()
    expected = -(-0.25 // per_case)  # requests until the spend reaches the budget
    assert len(frame) == len(server.log()) == expected < 10
    assert result.stopped is not None and "max_cost $0.2500 reached" in result.stopped
    summary = json.loads((result.path / "summary.json").read_text())
    assert summary["stopped"] == result.stopped
    finished = evaluate(suite, RunOptions(resume=True))
    assert finished.cases == 10 and finished.stopped is None
    assert len(server.log()) == 10


def test_max_cost_needs_a_price(server: FakeServer, tmp_path: Path) -> None:
    from promptkit import BadInput

    with pytest.raises(BadInput, match="max_cost needs a price for oai/fake"):
        evaluate(http_project(tmp_path, server.url), RunOptions(max_cost=1.0))
    assert server.log() == []


def test_dry_run_estimates_and_calls_nothing(cli: Any, server: FakeServer, tmp_path: Path) -> None:
    prices = "prices: {oai/fake: {input_per_1m: 1000, output_per_1m: 2000}}\n"
    suite = http_project(tmp_path, server.url, rows=6, extra=prices)
    code, out, _ = cli("eval", str(suite), "--dry-run")
    assert code == 0
    assert "requests:       6 (0 answered from the cache)" in out
    tokens = int(out.split("prompt tokens:  ~")[1].split()[0])
    assert tokens > 6 * 10
    assert f"prompt cost:    ${tokens * 1000 / 1e6:.4f}" in out
    assert f"at most ${6 * 8 * 2000 / 1e6:.4f}" in out  # max_tokens 8 per answer
    assert server.log() == []
    assert not (tmp_path / ".promptkit" / "runs").exists()
    cli("eval", str(suite), "--quiet", "--limit", "2")
    code, out, _ = cli("eval", str(suite), "--dry-run")
    assert "requests:       6 (2 answered from the cache)" in out


def test_cli_prints_plain_progress_lines_off_a_terminal(
    cli: Any, server: FakeServer, tmp_path: Path
) -> None:
    suite = http_project(tmp_path, server.url)
    code, out, err = cli("eval", str(suite), "--api-base", server.url)
    assert code == 0
    assert "eval 12/12  errors 0  cached 0  tokens" in err
    assert "\x1b[" not in err  # no terminal control codes in a log
    code, out, err = cli("eval", str(suite), "--quiet")
    assert code == 0 and err == "" and "review@v1" in out


def test_cli_errors_exit_3_and_resume_flag_reruns(
    cli: Any, server: FakeServer, tmp_path: Path
) -> None:
    suite = http_project(tmp_path, server.url)
    server.configure(server_error=1.0)
    code, _, err = cli("eval", str(suite), "--quiet", "--retries", "1")
    assert code == 3 and "12 case(s) failed" in err
    assert set(requests_per_case(server).values()) == {2}  # first try + 1 retry
    server.configure(server_error=0.0)
    code, out, _ = cli("eval", str(suite), "--quiet", "--resume")
    assert code == 0 and "12 cases, 0 errors" in out
    runs = list((tmp_path / ".promptkit" / "runs").iterdir())
    assert len(runs) == 1
