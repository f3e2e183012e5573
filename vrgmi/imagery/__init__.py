"""Explicit motor imagery ("Imagine it"): the movement library shown on the phantom limb,
mental chronometry, the KVIQ, the per-trial state machine and the level progression rule.
Plain Python and NumPy (no Panda3D); the scene is :mod:`vrgmi.scenes.imagery`."""
