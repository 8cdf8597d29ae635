"""A small client for an LLM judge behind an OpenAI-compatible ``/chat/completions`` endpoint.

Contents:
    - :class:`JudgeClient`: asks whether a response and a reference mean roughly the same and reads yes/no.
    - :class:`JudgeError`: every failure of a judge call (network, timeout, HTTP status, unreadable reply). It is
      raised, never swallowed; the caller decides whether to stop or to record it and fall back.

Only the standard library is used (``urllib``), so the rewards package stays free of heavy dependencies.

Deviations from the paper:
1. The paper calls gpt-4o-mini at temperature 0.7; model, endpoint and temperature are arguments here.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["JUDGE_PROMPT", "JudgeClient", "JudgeError"]

JUDGE_PROMPT = (
    "You are grading an answer to a question about a video.\n"
    "Question: {question}\nReference answer: {reference}\nModel answer: {response}\n"
    "Do the model answer and the reference answer mean roughly the same thing? Reply with only 'yes' or 'no'."
)
"""The judge's user message; ``{question}``, ``{reference}`` and ``{response}`` are filled in."""

_VERDICT_RE = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class JudgeError(RuntimeError):
    """A judge call failed; the message names the endpoint and the cause."""


@dataclass(frozen=True)
class JudgeClient:
    """An OpenAI-compatible chat endpoint used as a yes/no judge.

    Attributes:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the model name sent with each request.
        api_key: sent as a bearer token when given.
        timeout_s: seconds to wait for one reply before raising :class:`JudgeError`.
        temperature: sampling temperature of the judge (the paper uses 0.7).
        max_tokens: cap on the judge's reply length.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    temperature: float = 0.7
    max_tokens: int = 8

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                body = reply.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            raise JudgeError(f"judge at {url} answered HTTP {err.code}: {err.reason}") from err
        except TimeoutError as err:
            raise JudgeError(f"judge at {url} did not answer within timeout_s={self.timeout_s}") from err
        except urllib.error.URLError as err:
            raise JudgeError(f"judge at {url} unreachable: {err.reason}") from err
        try:
            data = json.loads(body)
        except json.JSONDecodeError as err:
            raise JudgeError(f"judge at {url} sent non-JSON: {body[:200]!r}") from err
        if not isinstance(data, dict):
            raise JudgeError(f"judge at {url} sent JSON that is not an object: {body[:200]!r}")
        return data

    def same_meaning(self, response: str, reference: str, question: str = "") -> bool:
        """Whether the judge says the response and the reference mean roughly the same.

        Raises:
            JudgeError: the call failed, or the reply holds neither 'yes' nor 'no'.
        """
        prompt = JUDGE_PROMPT.format(question=question, reference=reference, response=response)
        data = self._post(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
        )
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as err:
            raise JudgeError(f"judge reply has no choices[0].message.content: {str(data)[:200]}") from err
        match = _VERDICT_RE.search(str(content))
        if match is None:
            raise JudgeError(f"judge reply is neither yes nor no: {str(content)[:200]!r}")
        return match.group(1).lower() == "yes"
