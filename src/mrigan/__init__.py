"""mrigan: enhance MRI with generative adversarial networks.

Kept light on purpose: heavy libraries are imported where they are used, so `mrigan --help` starts fast.
"""

__version__ = "0.1.0"

RESEARCH_NOTICE = (
    "For research use only. Not a medical device; outputs must not be used for diagnosis or treatment."
)
