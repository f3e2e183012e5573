"""What a session measures beyond the scenes' trials: questionnaires and their scoring.
Plain Python, no Panda3D (the in-VR forms are the scenes ``pain_nrs`` and ``ssq``)."""
