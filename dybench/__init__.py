"""dybench: does this video model actually watch the video?"""

__version__ = "0.1.0"
