"""The LLM question path against a real OpenAI-compatible server: ``transformers serve`` over a tiny local causal LM.

Its random weights reply with gibberish, which is what exercises parse failures, the failure report, the reply
cache, timeouts and retries. Nothing is mocked: requests go over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvr1kit.config import DataGenConfig
from lvr1kit.data.generate import generate_dataset
from lvr1kit.data.qa_llm import build_messages, cache_key
from lvr1kit.data.schema import Segment, Timeline
from lvr1kit.video.synth import WorldVideo

SERVE = Path(sys.executable).with_name("transformers")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tiny_lm(folder: Path) -> Path:
    """A random-init two-layer Qwen2 causal LM with the project's local tokenizer, sampling on."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from lvr1kit.models import build_tokenizer

    tokenizer = build_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(do_sample=True, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(base_url, model)`` of a ``transformers serve`` process on 127.0.0.1 (skipped if serving is missing)."""
    if not SERVE.exists() or shutil.which("transformers", path=str(SERVE.parent)) is None:
        pytest.skip("transformers CLI not installed")
    pytest.importorskip("fastapi", reason="needs transformers[serving]")
    pytest.importorskip("openai", reason="needs transformers[serving]")
    folder = _tiny_lm(tmp_path_factory.mktemp("tiny_lm"))
    port = _free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path_factory.mktemp("hf_empty"))}
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    cmd = [str(SERVE), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"transformers serve did not start; see {log.name}") from None
                time.sleep(0.2)
        yield f"{url}/v1", str(folder)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # uvicorn's graceful shutdown can wait on abandoned generations
            proc.kill()
            proc.wait()
        log.close()


def _copy(world: list[WorldVideo], dst: Path, count: int) -> Path:
    dst.mkdir()
    for video in world[:count]:
        shutil.copy(video.video_path, dst)
        shutil.copy(video.events_path, dst)
    return dst


def _cfg(tiny_cfg: DataGenConfig, videos: Path, **qa: object) -> DataGenConfig:
    return tiny_cfg.model_copy(
        update={
            "videos_dir": str(videos),
            "qa": tiny_cfg.qa.model_copy(update={"generator": "llm", "questions_per_video": 2, **qa}),
            "split": tiny_cfg.split.model_copy(update={"eval_videos": 1}),
        }
    )


def test_gibberish_replies_are_counted_kept_and_cached(
    server: tuple[str, str], world: list[WorldVideo], tiny_cfg: DataGenConfig, tmp_path: Path
) -> None:
    url, model = server
    cfg = _cfg(tiny_cfg, _copy(world, tmp_path / "videos", 3), endpoint_url=url, model=model, max_tokens=24)
    out = tmp_path / "out"
    report = generate_dataset(cfg, out)
    assert report["stages"]["llm_requests"] == 6 and report["stages"]["qa_written"] == 3
    failures = report["dataset"]["failures"]
    assert sum(failures.values()) == 6 and all(k.startswith("parse:") for k in failures), failures
    kept = [json.loads(line) for line in (out / "dataset" / "parse_failures.jsonl").open()]
    assert len(kept) == 6 and all(f["raw"] is not None and f["category"] for f in kept)
    shutil.rmtree(out / "qa")  # units gone: the rerun must be answered from the reply cache, not the server
    again = generate_dataset(cfg, out)
    assert again["stages"].get("llm_requests", 0) == 0 and again["stages"]["llm_cache_hits"] == 6
    assert again["dataset"]["failures"] == failures


def test_timeouts_are_retried_then_reported(
    server: tuple[str, str], world: list[WorldVideo], tiny_cfg: DataGenConfig, tmp_path: Path
) -> None:
    url, model = server
    cfg = _cfg(
        tiny_cfg, _copy(world, tmp_path / "videos", 2), endpoint_url=url, model=model, timeout_s=0.001,
        max_retries=2, backoff_s=0.01, concurrency=2,
    )  # fmt: skip
    report = generate_dataset(cfg, tmp_path / "out")
    assert report["stages"]["llm_retries"] == 8 and report["stages"]["llm_errors"] == 4
    assert report["stages"]["qa_incomplete"] == 2 and "qa_written" not in report["stages"]
    assert report["dataset"]["failures"] == {"llm_request_failed": 2}
    assert not (tmp_path / "out" / "qa").exists()  # nothing half-written: a rerun asks again


def test_unreachable_endpoint_fails_cleanly(world: list[WorldVideo], tiny_cfg: DataGenConfig, tmp_path: Path) -> None:
    pytest.importorskip("openai")
    url = f"http://127.0.0.1:{_free_port()}/v1"
    cfg = _cfg(
        tiny_cfg, _copy(world, tmp_path / "videos", 2), endpoint_url=url, model="m", max_retries=1, backoff_s=0.01
    )
    report = generate_dataset(cfg, tmp_path / "out")
    assert report["dataset"]["failures"] == {"llm_request_failed": 2}
    assert "APIConnectionError" in report["dataset"]["failure_examples"][0]["detail"]


def test_prompt_names_the_category_and_cache_key_tracks_params() -> None:
    timeline = Timeline(
        video="v.mp4", duration_s=20.0, clip_seconds=10.0, captioner="oracle",
        segments=[Segment(start_s=0, end_s=10, caption="a"), Segment(start_s=10, end_s=20, caption="b")],
    )  # fmt: skip
    prompts = {c: build_messages(timeline, c)[1]["content"] for c in ("temporal", "goal", "spatial", "plot")}
    assert "Goal and Purpose" in prompts["goal"] and "Goal and Purpose" not in prompts["plot"]
    assert "[00:10-00:20] b" in prompts["plot"]
    messages = build_messages(timeline, "goal")
    assert cache_key("m", messages, {"t": 0.6}) != cache_key("m", messages, {"t": 0.7})
