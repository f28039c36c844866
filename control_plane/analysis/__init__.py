"""Statistical canary analysis: a reimplementation of Kayenta's NetflixACAJudge.

Import cost matters (the CLI imports this on every start), so numpy is only
imported when a metric is actually judged.
"""

from .config import AnalysisConfig, AnalysisError, MetricConfig, load_analysis, parse_judge_file
from .judge import JudgeResult, MetricResult, default_analysis, judge, judge_file
from .mannwhitney import mann_whitney

__all__ = [
    "AnalysisConfig",
    "AnalysisError",
    "JudgeResult",
    "MetricConfig",
    "MetricResult",
    "default_analysis",
    "judge",
    "judge_file",
    "load_analysis",
    "mann_whitney",
    "parse_judge_file",
]
