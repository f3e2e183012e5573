"""Study conditions for research (docs/study-conditions.md): what the phantom does in each
condition (:mod:`.conditions`, per frame), the per-patient randomisation schedule and the
blinding codes (:mod:`.allocation`). No Panda3D."""
