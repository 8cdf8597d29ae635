"""Optional lmms-eval adapter: run a local lvr1kit checkpoint on lmms-eval's video tasks (VideoMME, LongVideoBench...).

STATUS: UNVERIFIED. lmms-eval is not installed in CI and this adapter has never been run against it. It follows the
"simple" (legacy) model interface of lmms-eval's New Model Guide: a subclass of ``lmms_eval.api.model.lmms``
registered with ``lmms_eval.api.registry.register_model`` whose ``generate_until(requests)`` reads
``request.args = (context, gen_kwargs, doc_to_visual, doc_id, task, split)``. Check it on a GPU before trusting
numbers, and prefer ``lvr1 eval run`` for anything reported (it keeps the answer cache and our scorer).

Contents:
    - ``answer_question``: one (video file, question text) -> response with the shared prompt, sampler and model
      code; usable and tested without lmms-eval.
    - ``build_lmms_class``: the lmms-eval model class (``lvr1kit``), registered when lmms-eval is importable;
      raises an ImportError naming the fix otherwise.

Usage (GPU, after ``pip install lmms-eval``)::

    python -c "import lvr1kit.eval.lmms as m; m.build_lmms_class()" && python -m lmms_eval --model lvr1kit \\
        --model_args pretrained=/models/ckpt,num_frames=512 --tasks videomme --batch_size 1

(lmms-eval discovers models by its own registry; importing this module before its CLI runs, e.g. from a small
launcher script, is what registers ``lvr1kit``.)

Deviations from the paper:
1. The paper's numbers come from VILA's lmms-eval fork; this adapter targets upstream lmms-eval.
"""

from __future__ import annotations

import os
from typing import Any

from lvr1kit.config import DecodingConfig, ModelConfig, VideoConfig
from lvr1kit.models import LoadedModel, collate_prompts, encode_video, generate, load_model
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.rewards import extract_answer

__all__ = ["answer_question", "build_lmms_class"]


def answer_question(
    loaded: LoadedModel,
    video_path: str | os.PathLike[str],
    question: str,
    *,
    model_cfg: ModelConfig,
    video: VideoConfig,
    decoding: DecodingConfig,
    answer_only: bool = False,
    seed: int = 0,
) -> str:
    """Answer one question about one video with the shared template; ``answer_only`` returns the ``<answer>`` span."""
    inputs = load_video_inputs(video_path, video, settings_from_config(model_cfg, loaded.family))
    prompt = build_question_prompt(loaded.tokenizer, question, inputs, max_prompt_tokens=model_cfg.max_prompt_tokens)
    ids = generate(
        loaded.model,
        collate_prompts([prompt], loaded.tokenizer.pad_token_id),
        video_embeds=[encode_video(loaded.model, inputs)],
        banned_token_ids=loaded.placeholder_token_ids,
        do_sample=decoding.do_sample,
        temperature=decoding.temperature,
        top_p=decoding.top_p,
        max_new_tokens=decoding.max_new_tokens,
        seed=seed,
    )
    text = str(loaded.tokenizer.decode(ids[0], skip_special_tokens=True)).strip()
    return extract_answer(text).text if answer_only else text


def build_lmms_class() -> type:
    """Define and register the ``lvr1kit`` lmms-eval model class (see the module docstring; unverified).

    Raises:
        ImportError: lmms-eval is not installed (``pip install lmms-eval``; a GPU environment is assumed).
    """
    try:
        from lmms_eval.api.model import lmms
        from lmms_eval.api.registry import register_model
    except ImportError as err:
        raise ImportError(
            "the lmms-eval adapter needs lmms-eval: pip install lmms-eval (GPU environment); "
            "on CPU use `lvr1 eval run` instead"
        ) from err

    @register_model("lvr1kit")
    class LVR1Kit(lmms):  # type: ignore[misc,valid-type]
        """A local lvr1kit checkpoint answering with the shared prompt template and frame sampler."""

        def __init__(
            self,
            pretrained: str,
            num_frames: int = 64,
            max_new_tokens: int = 1024,
            device: str = "cuda",
            dtype: str = "bfloat16",
            answer_only: bool = True,
            **kwargs: Any,
        ) -> None:
            super().__init__()
            self.model_cfg = ModelConfig(path=pretrained, device=device, dtype=dtype)  # type: ignore[arg-type]
            self.video = VideoConfig(num_frames=int(num_frames), max_frames=max(512, int(num_frames)))
            self.decoding = DecodingConfig(max_new_tokens=int(max_new_tokens))
            self.answer_only = str(answer_only).lower() != "false"
            self.loaded = load_model(pretrained, dtype=dtype, device=device)

        def generate_until(self, requests: list[Any]) -> list[str]:
            answers = []
            for request in requests:
                context, _gen_kwargs, doc_to_visual, doc_id, task, split = request.args
                visuals = doc_to_visual(self.task_dict[task][split][doc_id])
                answers.append(
                    answer_question(
                        self.loaded,
                        visuals[0],
                        context,
                        model_cfg=self.model_cfg,
                        video=self.video,
                        decoding=self.decoding,
                        answer_only=self.answer_only,
                    )
                )
            return answers

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            raise NotImplementedError("lvr1kit adapter: only generation tasks are supported")

        def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
            raise NotImplementedError("lvr1kit adapter: multi-round generation is not supported")

    return LVR1Kit
