"""dybench: does this video model actually watch the video?"""

import logging

__version__ = "0.1.0"


def _not_deepspeed_cpu_notice(record: logging.LogRecord) -> bool:
    """DeepSpeed prints "Setting accelerator to CPU..." to stdout whenever transformers or accelerate import it on
    a machine without a GPU, in every command that loads a model; dybench says itself where a model runs."""
    return not record.getMessage().startswith("Setting accelerator to CPU")


# DeepSpeed configures this logger by name when it is imported; a filter added now stays on it.
logging.getLogger("DeepSpeed").addFilter(_not_deepspeed_cpu_notice)
