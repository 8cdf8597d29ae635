"""LLM question generator: a video's caption timeline -> one reasoning question per request, over any
OpenAI-compatible chat endpoint (vLLM, SGLang, ``transformers serve``, a hosted API).

Contents:
    - ``LLM_PROMPT_VERSION``, ``CATEGORY_GUIDANCE``, ``build_messages``: one prompt per reasoning category, the
      category named in it (the published scripts hard-coded one category line, PAPER.md §11 hazard 8).
    - ``ResponseCache``: replies on disk keyed by (model, prompt hash, sampling params): reruns cost nothing.
    - ``ChatClient``: bounded retries with exponential backoff on timeouts, connection errors, 429 and 5xx;
      other HTTP errors fail at once. Thread-safe counters (``stats``).
    - ``LLMQAGenerator``: the ``QAGenerator``: ``qa.concurrency`` requests in flight across videos; replies are
      parsed strictly; parse failures are kept with the raw text; a request that fails for good leaves its video
      unfinished (retried on the next run).

Settings come from :class:`~lvr1kit.config.QAConfig`; ``LVR1_LLM_URL`` / ``LVR1_LLM_MODEL`` override the endpoint
and model, and the key is read from the variable named by ``qa.api_key_env`` (never from a config file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lvr1kit.config import DataGenConfig, QAConfig
from lvr1kit.data.captioners import VideoItem
from lvr1kit.data.io import write_json_atomic
from lvr1kit.data.parse import ParseError, evidence_from_reasoning, parse_llm_reply
from lvr1kit.data.qa_templates import stable_seed
from lvr1kit.data.schema import QAFailure, QARecord, QAUnit, Timeline, now_iso
from lvr1kit.models.prompt import OPTION_LETTERS

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = [
    "CATEGORY_GUIDANCE",
    "LLM_PROMPT_VERSION",
    "ChatClient",
    "LLMQAGenerator",
    "LLMRequestError",
    "ResponseCache",
    "build_messages",
    "cache_key",
]

logger = logging.getLogger(__name__)

LLM_PROMPT_VERSION = "lvr-qa-llm-v1"
"""Bump whenever a character of the prompts below changes (cached replies are keyed by the prompt anyway)."""

CATEGORY_GUIDANCE: dict[str, str] = {
    "temporal": "Temporal: the order, timing or duration of events; what happened before or after what.",
    "goal": "Goal and Purpose: why someone acts; their intentions; changes of strategy.",
    "spatial": "Spatial: where people and objects are, and how they move between places.",
    "plot": "Plot and Narrative: how the story develops; cause and effect across distant scenes.",
}
"""The four reasoning categories as the generator prompt names them (PAPER.md §2)."""

SYSTEM_PROMPT = (
    "You write hard multiple-choice questions about long videos from a time-stamped caption timeline. "
    "Reply with one JSON object only."
)

USER_TEMPLATE = """Timeline of the video ({duration}; one caption per clip):
{timeline}

Write ONE question of this category:
{guidance}
The question must need evidence from moments far apart in the video, and must not contain its answer.
Give exactly 4 options, exactly one correct. Never mention option letters, captions or the timeline in the
reasoning; reason as if watching the video, citing timestamps as mm:ss.
Reply with JSON: {{"question": "...", "options": ["...", "...", "...", "..."], "answer": "A|B|C|D",
"reasoning": "step-by-step, citing mm:ss timestamps", "evidence": [["mm:ss", "mm:ss"], ...]}}"""

_LETTER_MENTION = re.compile(r"\b(?:option|answer|choice)\s*\(?[A-D]\)?(?![\w])", re.IGNORECASE)


class LLMRequestError(RuntimeError):
    """A request failed for good (after retries, or an error that retrying cannot fix)."""


def build_messages(timeline: Timeline, category: str) -> list[dict[str, str]]:
    """Chat messages asking for one question of ``category`` about ``timeline``."""
    duration = f"{timeline.duration_s / 60:.1f} minutes"
    user = USER_TEMPLATE.format(duration=duration, timeline=timeline.render(), guidance=CATEGORY_GUIDANCE[category])
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Key of a reply: sha256 over the model, the exact messages and the sampling parameters."""
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Replies as ``<root>/<key[:2]>/<key>.json`` (atomic writes; safe across processes and shards)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached reply text, or ``None``."""
        path = self._path(key)
        return json.loads(path.read_text(encoding="utf-8"))["text"] if path.exists() else None

    def put(self, key: str, text: str, meta: dict[str, Any]) -> None:
        """Store a reply with its request metadata."""
        write_json_atomic(self._path(key), {"text": text, **meta})


class ChatClient:
    """An OpenAI-compatible chat client with a disk cache, retries with backoff, and counters."""

    def __init__(self, cfg: QAConfig, cache: ResponseCache) -> None:
        import openai

        self.url = os.environ.get("LVR1_LLM_URL") or cfg.endpoint_url
        model = os.environ.get("LVR1_LLM_MODEL") or cfg.model
        if not model:
            raise ValueError("qa.model is not set; give the served model's name (or set LVR1_LLM_MODEL)")
        self.model: str = model
        self.cfg = cfg
        self.cache = cache
        self.openai = openai
        self.client = openai.OpenAI(
            base_url=self.url,
            api_key=os.environ.get(cfg.api_key_env) or "none",
            timeout=cfg.timeout_s,
            max_retries=0,  # retries are ours, so they are counted and backed off as configured
        )
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def complete(self, messages: list[dict[str, str]], *, seed: int) -> str:
        """The reply text for ``messages`` (from the cache when present).

        Raises:
            LLMRequestError: the endpoint kept failing, or refused the request (4xx other than 429).
        """
        params = {"temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens, "seed": seed}
        key = cache_key(self.model, messages, params)
        cached = self.cache.get(key)
        if cached is not None:
            self._count("llm_cache_hits")
            return cached
        retryable = (
            self.openai.APITimeoutError,
            self.openai.APIConnectionError,
            self.openai.RateLimitError,
            self.openai.InternalServerError,
        )
        for attempt in range(self.cfg.max_retries + 1):
            try:
                self._count("llm_requests")
                reply = self.client.chat.completions.create(
                    model=self.model,
                    # our {"role", "content"} dicts are valid messages; the SDK types them as per-role TypedDicts
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    temperature=self.cfg.temperature,
                    max_tokens=self.cfg.max_tokens,
                    seed=seed,
                )
            except retryable as err:
                if attempt == self.cfg.max_retries:
                    self._count("llm_errors")
                    raise LLMRequestError(f"{self.url}: {type(err).__name__} after {attempt + 1} tries: {err}") from err
                self._count("llm_retries")
                delay = self.cfg.backoff_s * 2**attempt
                logger.info("%s: %s; retry %d in %.1f s", self.url, type(err).__name__, attempt + 1, delay)
                time.sleep(delay)
                continue
            except self.openai.APIStatusError as err:
                self._count("llm_errors")
                raise LLMRequestError(f"{self.url}: HTTP {err.status_code} (not retried): {err}") from err
            text = reply.choices[0].message.content or ""
            self.cache.put(key, text, {"model": self.model, "params": params, "created": now_iso()})
            return text
        raise AssertionError("unreachable")  # the loop returns or raises


class LLMQAGenerator:
    """The ``QAGenerator`` that asks an LLM for one question per (video, slot), categories dealt round-robin."""

    name = "llm"

    def __init__(self, cfg: DataGenConfig, cache_dir: str | Path, source: str = "") -> None:
        self.cfg = cfg
        self.source = source
        self.client = ChatClient(cfg.qa, ResponseCache(cache_dir))

    @property
    def stats(self) -> Counter[str]:
        return self.client.stats

    def _ask(self, video: VideoItem, timeline: Timeline, slot: int, category: str) -> QARecord | QAFailure:
        reply = self.client.complete(build_messages(timeline, category), seed=slot)
        try:
            parsed = parse_llm_reply(reply)
        except ParseError as err:
            return QAFailure(
                video=video.rel, reason=f"parse:{err.reason}", detail=err.detail, category=category, raw=reply
            )
        options, letter = parsed.options, parsed.answer_letter
        if self.cfg.qa.option_order == "shuffled" and not _LETTER_MENTION.search(parsed.reasoning):
            rng = np.random.default_rng(stable_seed(self.cfg.qa.seed, video.rel, slot))
            correct = options[OPTION_LETTERS.index(letter)]
            others = [options[i] for i in rng.permutation(len(options)) if options[i] != correct]
            target = int(rng.integers(len(options)))
            options, letter = [*others[:target], correct, *others[target:]], OPTION_LETTERS[target]
        try:
            return QARecord.build(
                problem_id=f"{video.rel.rsplit('.', 1)[0]}/{slot}",
                question=parsed.question,
                options=options,
                answer_letter=letter,
                videos=video.rel,
                problem_type=category,  # type: ignore[arg-type]
                reasoning=parsed.reasoning,
                question_type=category,
                evidence=parsed.evidence or evidence_from_reasoning(parsed.reasoning, timeline.segments),
                video_duration_s=timeline.duration_s,
                generator="llm",
                generator_model=self.client.model,
                prompt_version=LLM_PROMPT_VERSION,
                source=self.source,
                clip_seconds=timeline.clip_seconds,
                created=now_iso(),
            )
        except ValueError as err:
            return QAFailure(
                video=video.rel, reason="parse:invalid_record", detail=str(err), category=category, raw=reply
            )

    def generate(self, jobs: Sequence[tuple[VideoItem, Timeline]]) -> Iterator[QAUnit]:
        """Run every (video, slot) request with ``qa.concurrency`` in flight; yield each video when it is done."""
        qa = self.cfg.qa
        results: dict[str, list[QARecord | QAFailure | LLMRequestError]] = {v.rel: [] for v, _ in jobs}
        with ThreadPoolExecutor(max_workers=qa.concurrency) as pool:
            futures = {}
            for video, timeline in jobs:
                for slot in range(qa.questions_per_video):
                    category = qa.categories[(video.index * qa.questions_per_video + slot) % len(qa.categories)]
                    futures[pool.submit(self._ask, video, timeline, slot, category)] = video.rel
            for future in as_completed(futures):
                rel = futures[future]
                try:
                    results[rel].append(future.result())
                except LLMRequestError as err:
                    results[rel].append(err)
                if len(results[rel]) == qa.questions_per_video:
                    yield self._unit(rel, results.pop(rel))

    @staticmethod
    def _unit(rel: str, outcomes: list[QARecord | QAFailure | LLMRequestError]) -> QAUnit:
        errors = [o for o in outcomes if isinstance(o, LLMRequestError)]
        records = sorted((o for o in outcomes if isinstance(o, QARecord)), key=lambda r: str(r.problem_id))
        failures = sorted(
            (o for o in outcomes if isinstance(o, QAFailure)), key=lambda f: (f.category or "", f.reason, f.raw or "")
        )
        if errors:
            failure = QAFailure(video=rel, reason="llm_request_failed", detail=str(errors[0]))
            return QAUnit(video=rel, records=records, failures=[*failures, failure], complete=False)
        return QAUnit(video=rel, records=records, failures=failures)
