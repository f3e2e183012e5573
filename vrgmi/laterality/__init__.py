"""The laterality task ("Left or right?", GMI phase 1) without rendering: stimuli, the
adaptive staircase, the trial state machine, the analysis and the norms
(docs/laterality.md). The scene that draws it is :mod:`vrgmi.scenes.laterality`."""
from __future__ import annotations

from vrgmi.laterality.analysis import figures, session_figures
from vrgmi.laterality.norms import NORMS, Norms, norms_for
from vrgmi.laterality.staircase import DifficultyMap, WeightedUpDown
from vrgmi.laterality.stimuli import Stimulus, StimulusGenerator, StimulusRanges
from vrgmi.laterality.task import LateralityTask, TaskConfig

__all__ = ["NORMS", "DifficultyMap", "LateralityTask", "Norms", "Stimulus",
           "StimulusGenerator", "StimulusRanges", "TaskConfig", "WeightedUpDown", "figures",
           "norms_for", "session_figures"]
