"""lvr1kit: a research workbench for reinforcement learning of long-video reasoning in vision-language models.

Reimplements the system of "Scaling RL to Long Videos" (LongVILA-R1): long-video data generation, CoT-SFT, GRPO
with MR-SP, and evaluation, on a synthetic long-video world and tiny real-architecture models by default.
"""

__version__ = "0.1.0"
